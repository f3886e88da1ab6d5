import { Pool } from 'pg';
import { waitFor as waitUntil } from '@app/database';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { SagaExecutor } from '../executor/saga-executor';
import { SagaState } from '../core/saga.state';
import { SagaStatus } from '../core/saga.types';

/** Helpers shared by the sagas' integration specs (real PostgreSQL, no mocks). */

/** Polls `condition` until it holds; fails with `what` after `timeoutMs` (the one waitFor, of @app/database). */
export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(condition, { what, timeoutMs });
}

/** Waits until the saga is in one of `statuses` and returns its state. */
export async function waitForStatus(
  executor: SagaExecutor,
  sagaId: string,
  statuses: SagaStatus | SagaStatus[],
  timeoutMs = 20_000,
): Promise<SagaState> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  let last: SagaState | undefined;
  await waitFor(
    async () => {
      last = (await executor.load(sagaId))?.state;
      return last !== undefined && (wanted as string[]).includes(last.status);
    },
    `saga ${sagaId} to be ${wanted.join('|')} (last: ${JSON.stringify(last?.status)})`,
    timeoutMs,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(last?.steps)}`);
  });
  return last!;
}

/** Creates a tenant with a quota and the permissions its agents may be granted. */
export async function createTenant(
  commands: DomainCommandDispatcher,
  tenantId: string,
  quota: { cpuMillis: number; memoryMb: number },
  allowedPermissions: string[],
): Promise<void> {
  await commands.dispatch({
    aggregate: 'tenant',
    id: tenantId,
    tenantId,
    command: { type: 'CreateTenant', data: { tenantId, name: tenantId, quota, allowedPermissions } },
  });
  await commands.dispatch({ aggregate: 'quota', id: tenantId, tenantId, command: { type: 'SetQuota', data: quota } });
}

export interface StoredEvent {
  globalPosition: number;
  streamId: string;
  version: number;
  type: string;
  data: any;
  metadata: any;
}

/** Every event of a stream, in version order (straight from the `events` table). */
export async function streamEvents(pool: Pool, streamId: string): Promise<StoredEvent[]> {
  const { rows } = await pool.query(
    `select global_position, stream_id, version, type, data, metadata from events where stream_id = $1 order by version`,
    [streamId],
  );
  return rows.map(toStored);
}

export function toStored(r: any): StoredEvent {
  return {
    globalPosition: Number(r.global_position),
    streamId: r.stream_id,
    version: Number(r.version),
    type: r.type,
    data: r.data,
    metadata: r.metadata,
  };
}

export const sagaEvents = (pool: Pool, sagaId: string) => streamEvents(pool, `saga-${sagaId}`);

/** Step names of the saga's events of `type`, in stream order. */
export function stepsOf(events: StoredEvent[], type: string): string[] {
  return events.filter((e) => e.type === type).map((e) => e.data.step as string);
}

/** Most steps RUNNING at once, replaying the saga's own StepStarted / StepSucceeded / StepFailed. */
export function maxRunningAtOnce(events: StoredEvent[]): number {
  const running = new Set<string>();
  let max = 0;
  for (const e of events) {
    if (e.type === 'StepStarted') running.add(e.data.step);
    if (e.type === 'StepSucceeded' || e.type === 'StepFailed') running.delete(e.data.step);
    max = Math.max(max, running.size);
  }
  return max;
}

/** Runs `fn` and returns the error it throws (fails when it does not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, none was thrown');
}
