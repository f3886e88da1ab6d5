import { DomainError, dueFireTime, Schedule, scheduleAggregateId, scheduleFireKey, ScheduleState } from '@app/domain';
import {
  DomainCommandDispatcher,
  IdempotencyConflictError,
  isTerminalSagaStatus,
  resolveTaskWorkflowStart,
  SagaError,
  SagaInputError,
  SagaType,
  StartSagaRequest,
  StartSagaResult,
} from '@app/sagas';

/** What the scheduler needs of the saga executor. */
export interface ScheduleSagas {
  start(req: StartSagaRequest): Promise<StartSagaResult>;
  load(sagaId: string): Promise<{ state: { status: string } } | undefined>;
}

export interface FireContext {
  commands: DomainCommandDispatcher;
  sagas: ScheduleSagas;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** What one look at a schedule did. */
export type FireOutcome = 'started' | 'skipped' | 'failed' | 'nothing';

/** Who the schedule's events and sagas name as their actor. */
const SCHEDULER = 'scheduler';
const actorOf = (scheduleId: string) => `schedule:${scheduleId}`;

// Refusals of the body at fire time (e.g. its workflow definition is gone): recorded as a failed
// fire, not retried. Anything else (the database away) leaves the fire owed for the next look.
const isRefusal = (err: unknown) => err instanceof SagaInputError || err instanceof SagaError || err instanceof DomainError;

/**
 * One look at a schedule at `now`: first the saga of a fire already decided but not recorded as
 * started (its leader died in between), then the fire due now, if any. The decision (fired or
 * skipped) is an event on the schedule's stream, appended with the expected version before the saga
 * starts; the saga starts with the fire's idempotency key. So however many leaders look (a zombie
 * leader, a retry after a crash), each fire is decided once and starts one saga.
 */
export async function fireSchedule(ctx: FireContext, tenantId: string, scheduleId: string, now: Date): Promise<FireOutcome> {
  const id = scheduleAggregateId(tenantId, scheduleId);
  let { state } = (await ctx.commands.load('schedule', id)) as { state: ScheduleState };
  // A deleted schedule starts nothing more, not even a fire decided just before the deletion.
  if (state.status === 'NONE' || state.status === 'DELETED') return 'nothing';
  if (state.pendingFireAt !== undefined) {
    await startOwedSaga(ctx, state, state.pendingFireAt, now);
    ({ state } = (await ctx.commands.load('schedule', id)) as { state: ScheduleState });
    if (state.status === 'NONE') return 'nothing';
  }
  if (dueFireTime(state, now) === undefined) return 'nothing';
  const previousSaga = state.overlap === 'skip' && state.lastSagaId !== undefined ? { sagaId: state.lastSagaId, running: await isRunning(ctx, state.lastSagaId) } : undefined;
  let decided;
  try {
    decided = await ctx.commands.dispatch({
      aggregate: 'schedule',
      id,
      tenantId,
      metadata: { actor: SCHEDULER },
      command: { type: 'FireSchedule', data: { at: now.toISOString(), ...(previousSaga ? { previousSaga } : {}) } },
    });
  } catch (err) {
    // The schedule changed between the look and the decision (paused, deleted, a fire decided by
    // another leader): the next look decides on what it is now.
    if (err instanceof DomainError) {
      ctx.log?.('schedule changed while deciding a fire', { scheduleId, tenantId, code: err.code });
      return 'nothing';
    }
    throw err;
  }
  const event = decided.events[0] as { type: string; data: { fireTime: string } } | undefined;
  if (!event) return 'nothing';
  if (event.type === 'ScheduleFireSkipped') {
    ctx.log?.('schedule fire skipped: the previous saga is still running', { scheduleId, tenantId, fireTime: event.data.fireTime, sagaId: previousSaga?.sagaId });
    return 'skipped';
  }
  return startOwedSaga(ctx, decided.state as Schedule, event.data.fireTime, now);
}

async function isRunning(ctx: FireContext, sagaId: string): Promise<boolean> {
  const loaded = await ctx.sagas.load(sagaId);
  // SCHEDULED, RUNNING, SUSPENDED and COMPENSATING all hold the next fire back.
  return loaded !== undefined && !isTerminalSagaStatus(loaded.state.status);
}

/** The saga input of the stored body, resolved now (a task workflow from a stored definition: its version now). */
function resolveStart(ctx: FireContext, s: Schedule): Promise<unknown> | unknown {
  return s.sagaType === 'task-workflow' ? resolveTaskWorkflowStart(ctx.commands, s.tenantId, s.body) : s.body;
}

/** Starts the saga of the decided fire at `fireTime` (idempotent by its key) and records it. */
async function startOwedSaga(ctx: FireContext, s: Schedule, fireTime: string, now: Date): Promise<FireOutcome> {
  const id = scheduleAggregateId(s.tenantId, s.scheduleId);
  let sagaId: string;
  try {
    const input = await resolveStart(ctx, s);
    ({ sagaId } = await ctx.sagas.start({
      tenantId: s.tenantId,
      sagaType: s.sagaType as SagaType,
      input,
      idempotencyKey: scheduleFireKey(s.scheduleId, fireTime),
      metadata: { actor: actorOf(s.scheduleId) },
    }));
  } catch (err) {
    if (err instanceof IdempotencyConflictError) {
      // Started before (a leader that died before recording it), from another version of a
      // stored definition: that saga is this fire's.
      sagaId = err.sagaId;
    } else if (isRefusal(err)) {
      ctx.log?.('schedule fire failed: its saga was refused', { scheduleId: s.scheduleId, tenantId: s.tenantId, fireTime, error: (err as Error).message });
      await ctx.commands.dispatch({
        aggregate: 'schedule',
        id,
        tenantId: s.tenantId,
        metadata: { actor: SCHEDULER },
        command: { type: 'RecordScheduleFireFailure', data: { fireTime, error: (err as Error).message, at: now.toISOString() } },
      });
      return 'failed';
    } else {
      throw err;
    }
  }
  await ctx.commands.dispatch({
    aggregate: 'schedule',
    id,
    tenantId: s.tenantId,
    metadata: { actor: SCHEDULER },
    command: { type: 'RecordScheduledSaga', data: { fireTime, sagaId, at: now.toISOString() } },
  });
  ctx.log?.('schedule fired', { scheduleId: s.scheduleId, tenantId: s.tenantId, fireTime, sagaId });
  return 'started';
}
