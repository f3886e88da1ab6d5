import { Pool } from 'pg';
import { waitFor } from '@app/database';
import { CreateSchedule, Schedule, scheduleAggregateId, ScheduleState } from '@app/domain';
import { AggregateRepository, PostgresEventStore } from '@app/event-store';
import { ProjectionRunner, schedulesProjection } from '@app/projections';
import {
  AgentProvisioningSaga,
  DomainCommandExecutor,
  isTerminalSagaStatus,
  registerBuiltinHandlers,
  SagaExecutor,
  SagaExecutorOptions,
  TaskHandlerRegistry,
  TaskWorkflowSaga,
} from '@app/sagas';

/** The executor, domain commands and the `schedules` projection on a pool, built from the libs' public exports. */
export function createScheduleRuntime(pool: Pool, options: SagaExecutorOptions = {}) {
  const store = new PostgresEventStore(pool);
  const commands = new DomainCommandExecutor(new AggregateRepository(store));
  const handlers = registerBuiltinHandlers(new TaskHandlerRegistry());
  const executor = new SagaExecutor(pool, store, [new AgentProvisioningSaga(commands, handlers), new TaskWorkflowSaga(commands, handlers)], {
    pollIntervalMs: 50,
    leaseMs: 5000,
    ...options,
  });
  const projections = new ProjectionRunner(pool, store, [schedulesProjection], { pollIntervalMs: 20, leadershipRetryMs: 100 });
  return { store, commands, executor, projections };
}

export type ScheduleRuntime = ReturnType<typeof createScheduleRuntime>;

/** A task workflow of one task (`delay` of `ms` when given, else `noop`). */
export const workflowBody = (ms?: number) => ({
  name: 'scheduled',
  tasks: [ms === undefined ? { id: 'work', handler: 'noop', dependsOn: [] } : { id: 'work', handler: 'delay', dependsOn: [], config: { ms } }],
});

/** Creates a schedule (as the API does) and waits until the scheduler's index has it. */
export async function createSchedule(
  rt: ScheduleRuntime,
  pool: Pool,
  data: Partial<CreateSchedule['data']> & Pick<CreateSchedule['data'], 'tenantId' | 'scheduleId' | 'at'>,
): Promise<void> {
  await rt.commands.dispatch({
    aggregate: 'schedule',
    id: scheduleAggregateId(data.tenantId, data.scheduleId),
    tenantId: data.tenantId,
    command: {
      type: 'CreateSchedule',
      data: { cron: '* * * * *', timezone: 'UTC', sagaType: 'task-workflow', body: workflowBody(), overlap: 'skip', paused: false, ...data },
    },
  });
  await indexed(pool, data.tenantId, data.scheduleId, (row) => row !== undefined);
}

/** Waits until the schedule's read-model row satisfies `check` (the scheduler's index caught up). */
export async function indexed(pool: Pool, tenantId: string, scheduleId: string, check: (row: { version: number } | undefined) => boolean): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await pool.query<{ version: string }>('select version from schedules where tenant_id = $1 and schedule_id = $2', [tenantId, scheduleId]);
      return check(rows[0] ? { version: Number(rows[0].version) } : undefined);
    },
    { what: `schedule ${scheduleId} in the read model` },
  );
}

/** The schedule folded from its stream. */
export async function scheduleOf(rt: ScheduleRuntime, tenantId: string, scheduleId: string): Promise<Schedule> {
  const { state } = (await rt.commands.load('schedule', scheduleAggregateId(tenantId, scheduleId))) as { state: ScheduleState };
  if (state.status === 'NONE') throw new Error(`schedule ${scheduleId} not found`);
  return state;
}

/** Every saga a schedule started, from the log: one entry per SagaStarted (a double start would show twice). */
export async function sagasStartedBy(rt: ScheduleRuntime, scheduleId: string): Promise<{ sagaId: string; key: string }[]> {
  const out: { sagaId: string; key: string }[] = [];
  for (let after = 0; ; ) {
    const page = await rt.store.readAll({ after, limit: 1000, category: 'saga' });
    for (const e of page.events) {
      if (e.type === 'SagaStarted' && e.metadata.actor === `schedule:${scheduleId}`) {
        out.push({ sagaId: e.streamId.slice('saga-'.length), key: (e.data as { idempotencyKey: string }).idempotencyKey });
      }
    }
    if (page.lastPosition === after) return out;
    after = page.lastPosition;
  }
}

/** Waits until the saga is terminal. */
export async function settled(rt: ScheduleRuntime, sagaId: string): Promise<void> {
  await waitFor(async () => isTerminalSagaStatus((await rt.executor.load(sagaId))?.state.status ?? ''), { what: `saga ${sagaId} to finish`, timeoutMs: 30_000 });
}
