import { Client, Pool } from 'pg';
import { TestDatabase, withDatabase } from '@app/database';
import { AggregateRepository, PostgresEventStore } from '@app/event-store';
import {
  AgentProvisioningSaga,
  DomainCommandExecutor,
  registerBuiltinHandlers,
  SagaExecutor,
  SagaExecutorOptions,
  SagaStatus,
  TaskHandlerRegistry,
  TaskWorkflowSaga,
} from '@app/sagas';
import { waitFor } from './wait-for';

/** An executor with both saga types on a pool, built from the libs' public exports (as the apps do). */
export function createSagaRuntime(pool: Pool, options: SagaExecutorOptions = {}) {
  const store = new PostgresEventStore(pool);
  const commands = new DomainCommandExecutor(new AggregateRepository(store));
  const handlers = registerBuiltinHandlers(new TaskHandlerRegistry());
  const executor = new SagaExecutor(pool, store, [new AgentProvisioningSaga(commands, handlers), new TaskWorkflowSaga(commands, handlers)], options);
  return { store, commands, executor };
}

export type SagaRuntime = ReturnType<typeof createSagaRuntime>;

export const TERMINAL_STATUSES: string[] = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'] satisfies SagaStatus[];

/** A tenant with a quota large enough for the spec's agents. */
export async function createTenant(runtime: SagaRuntime, tenantId: string, allowedPermissions = ['read', 'write']): Promise<void> {
  const quota = { cpuMillis: 1_000_000, memoryMb: 1_000_000 };
  await runtime.commands.dispatch({
    aggregate: 'tenant',
    id: tenantId,
    tenantId,
    command: { type: 'CreateTenant', data: { tenantId, name: tenantId, quota, allowedPermissions } },
  });
  await runtime.commands.dispatch({ aggregate: 'quota', id: tenantId, tenantId, command: { type: 'SetQuota', data: quota } });
}

export interface AgentOptions {
  /** A permission the tenant does not allow: the saga fails at grant-permissions and compensates. */
  forbiddenPermission?: boolean;
  /** Handler and config of the initial task (run-initial-task). */
  initialTask?: { handler: string; config?: Record<string, unknown> };
}

/** Starts an AgentProvisioningSaga for a uniquely named agent; returns its saga id. */
export async function startAgentProvisioning(executor: SagaExecutor, tenantId: string, name: string, options: AgentOptions = {}): Promise<string> {
  const { sagaId } = await executor.start({
    tenantId,
    sagaType: 'agent-provisioning',
    input: {
      agent: {
        name,
        type: 'llm',
        capabilities: ['chat'],
        permissions: options.forbiddenPermission ? ['read', 'admin'] : ['read'],
        resources: { cpuMillis: 10, memoryMb: 16 },
        ...(options.initialTask ? { initialTask: { name: `${name}-smoke`, ...options.initialTask } } : {}),
      },
    },
  });
  return sagaId;
}

export async function sagaStatus(executor: SagaExecutor, sagaId: string): Promise<string | undefined> {
  return (await executor.load(sagaId))?.state.status;
}

/**
 * Ends the spec's pools, waits until the server closed all their connections, then drops the
 * database (drop() terminates what is still open, and a stopped runner's old leadership connection
 * would then throw from its error listener).
 */
export async function dropTestDatabase(tdb: TestDatabase | undefined, pools: Pool[] = []): Promise<void> {
  if (!tdb) return;
  for (const pool of [...pools, tdb.pool]) if (!pool.ending && !pool.ended) await pool.end();
  const admin = new Client({ connectionString: withDatabase(tdb.url, 'postgres') });
  await admin.connect();
  try {
    await waitFor(
      async () => (await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [tdb.name])).rows[0].n === 0,
      { what: `all connections to ${tdb.name} closed` },
    );
  } finally {
    await admin.end();
  }
  await tdb.drop();
}
