import { createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { createTenant, errorOf, sagaEvents, stepsOf, streamEvents, waitFor, waitForStatus } from '../testing/int-spec-helpers';
import { TaskHandlerRegistry } from '../tasks/task-handler';
import { registerBuiltinHandlers } from '../tasks/builtin-handlers';
import { WorkflowTask } from '../core/dag';
import { SagaError } from '../core/saga.errors';
import { toCompensationsView } from '../core/saga-view';
import { workflowTaskIdOf } from '../definitions/task-workflow.saga';

// Operators and stuck sagas: a compensation that keeps failing parks the saga in
// COMPENSATION_FAILED; retry and skip get it going again; cancel stops a running saga.

jest.setTimeout(60_000);

let tdb: TestDatabase;
let rt: ReturnType<typeof createSagaRuntime>;
const tenantId = 'ops-tenant';

/** Compensations with `config.key` in this set fail (retryably) until the key is removed. */
const broken = new Set<string>();
const undoRuns: string[] = [];
const handlers = registerBuiltinHandlers(new TaskHandlerRegistry()).register('flaky-undo', async (ctx) => {
  undoRuns.push(`${ctx.sagaId}:${ctx.taskName}:${ctx.attempt}`);
  if (broken.has(String(ctx.config.key))) throw new Error(`undo of ${String(ctx.config.key)} is broken`);
  return {};
});

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 8 });
  // random 0: the shortest backoff (50 % of 200 ms × 2^n), so five compensation attempts take ~1.5 s.
  rt = createSagaRuntime(tdb.pool, { pollIntervalMs: 50, handlers, random: () => 0 });
  await createTenant(rt.commands, tenantId, { cpuMillis: 1000, memoryMb: 1000 }, ['read']);
  await rt.executor.startWorker();
});
afterAll(async () => {
  await rt?.executor.stopWorker();
  await tdb?.drop();
});

/** first (undo: flaky-undo keyed `key`) → second (undo: noop) → boom (fails for good). */
function stuckWorkflow(key: string): WorkflowTask[] {
  return [
    { id: 'first', handler: 'echo', dependsOn: [], config: { v: 1 }, compensation: { handler: 'flaky-undo', config: { key } } },
    { id: 'second', handler: 'noop', dependsOn: ['first'], compensation: { handler: 'noop' } },
    { id: 'boom', handler: 'fail', dependsOn: ['second'], config: { message: 'boom' }, retry: { maxAttempts: 1, backoffMs: 0 } },
  ];
}

async function startWorkflow(tasks: WorkflowTask[]) {
  const { sagaId } = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: { name: 'ops', tasks } });
  return sagaId;
}

async function stuckSaga(key: string) {
  broken.add(key);
  const sagaId = await startWorkflow(stuckWorkflow(key));
  const state = await waitForStatus(rt.executor, sagaId, ['COMPENSATED', 'COMPENSATION_FAILED', 'COMPLETED']);
  expect(state.status).toBe('COMPENSATION_FAILED');
  return { sagaId, state };
}

const sagaErrorCode = async (fn: () => Promise<unknown>) => {
  const err = await errorOf(fn);
  expect(err).toBeInstanceOf(SagaError);
  return (err as SagaError).code;
};

describe('stuck compensations and operator commands', () => {
  it('parks the saga in COMPENSATION_FAILED after the compensation retries, visible in the compensation log', async () => {
    const { sagaId, state } = await stuckSaga('k-parked');
    expect(state.stuckStep).toBe('first');
    expect(state.steps.first.status).toBe('COMPENSATION_FAILED');
    expect(state.steps.second.status).toBe('COMPENSATED');

    const view = toCompensationsView(state);
    expect(view.status).toBe('COMPENSATION_FAILED');
    expect(view.entries.map((e) => [e.step, e.status, e.attempt])).toEqual([
      ['second', 'STARTED', 1],
      ['second', 'SUCCEEDED', 1],
      ...[1, 2, 3, 4, 5].flatMap((n) => [
        ['first', 'STARTED', n],
        ['first', 'FAILED', n],
      ]),
    ]);
    expect(view.entries.filter((e) => e.status === 'FAILED').every((e) => e.error === 'undo of k-parked is broken')).toBe(true);
    expect(undoRuns.filter((r) => r.startsWith(`${sagaId}:first:`))).toEqual([1, 2, 3, 4, 5].map((n) => `${sagaId}:first:${n}`));

    const events = await sagaEvents(tdb.pool, sagaId);
    const failures = events.filter((e) => e.type === 'StepCompensationFailed');
    expect(failures.map((e) => e.data.final)).toEqual([false, false, false, false, true]);
    expect(events[events.length - 1].type).toBe('SagaCompensationFailed');
    // Nothing is left to do for a worker: the saga waits for an operator.
    const { rows } = await tdb.pool.query('select 1 from saga_work where saga_id = $1', [sagaId]);
    expect(rows).toEqual([]);
  });

  it('retryCompensation after the cause is removed finishes compensating', async () => {
    const { sagaId } = await stuckSaga('k-retry');
    broken.delete('k-retry');
    const after = await rt.executor.retryCompensation(sagaId, tenantId, 'ops@example.com', 'undo fixed');
    expect(after.status).toBe('COMPENSATING');

    const state = await waitForStatus(rt.executor, sagaId, ['COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.steps.first.status).toBe('COMPENSATED');
    const events = await sagaEvents(tdb.pool, sagaId);
    const retried = events.find((e) => e.type === 'CompensationRetried')!;
    expect(retried.data).toMatchObject({ actor: 'ops@example.com', reason: 'undo fixed' });
    expect(retried.metadata.actor).toBe('ops@example.com');
    expect(stepsOf(events, 'StepCompensated')).toEqual(['second', 'first']);
    // Attempt numbers restart after the operator's retry.
    expect(state.compensations.slice(-2).map((e) => [e.step, e.status, e.attempt])).toEqual([
      ['first', 'STARTED', 1],
      ['first', 'SUCCEEDED', 1],
    ]);
    const task = (await streamEvents(tdb.pool, `task-${workflowTaskIdOf(sagaId, 'first')}`)).map((e) => e.type);
    expect(task).toEqual(['TaskScheduled', 'TaskStarted', 'TaskCompleted', 'TaskCompensated']);
  });

  it('retryCompensation while the cause remains parks the saga again', async () => {
    const { sagaId } = await stuckSaga('k-still-broken');
    await rt.executor.retryCompensation(sagaId, tenantId, 'ops@example.com');
    await waitFor(async () => (await sagaEvents(tdb.pool, sagaId)).filter((e) => e.type === 'SagaCompensationFailed').length === 2, 'second park');
    const state = (await rt.executor.load(sagaId))!.state;
    expect(state.status).toBe('COMPENSATION_FAILED');
    expect(state.stuckStep).toBe('first');
    broken.delete('k-still-broken');
  });

  it('skipCompensation records the skip with actor and reason and finishes as COMPENSATED', async () => {
    const { sagaId } = await stuckSaga('k-skip');
    // Only the stuck step may be skipped.
    expect(await sagaErrorCode(() => rt.executor.skipCompensation(sagaId, tenantId, 'second', 'ops@example.com', 'wrong step'))).toBe(
      'STEP_NOT_STUCK',
    );
    const after = await rt.executor.skipCompensation(sagaId, tenantId, 'first', 'ops@example.com', 'undone by hand in the CRM');
    expect(after.status).toBe('COMPENSATED');

    const state = await waitForStatus(rt.executor, sagaId, ['COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.steps.first.status).toBe('SKIPPED');
    const view = toCompensationsView(state);
    expect(view.entries[view.entries.length - 1]).toMatchObject({
      step: 'first',
      status: 'SKIPPED',
      actor: 'ops@example.com',
      reason: 'undone by hand in the CRM',
    });
    const events = await sagaEvents(tdb.pool, sagaId);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['CompensationSkipped', 'SagaCompensated']);
    expect(events[events.length - 2].data).toMatchObject({ step: 'first', actor: 'ops@example.com', reason: 'undone by hand in the CRM' });
    // The skipped compensation never ran again, and the task stays COMPLETED.
    expect(undoRuns.filter((r) => r.startsWith(`${sagaId}:first:`))).toHaveLength(5);
    const task = (await streamEvents(tdb.pool, `task-${workflowTaskIdOf(sagaId, 'first')}`)).map((e) => e.type);
    expect(task).toEqual(['TaskScheduled', 'TaskStarted', 'TaskCompleted']);
    broken.delete('k-skip');
  });

  it('refuses retry and skip of a saga that is not stuck (SAGA_NOT_STUCK), and commands on another tenant’s saga', async () => {
    const sagaId = await startWorkflow([{ id: 'only', handler: 'noop', dependsOn: [] }]);
    expect((await waitForStatus(rt.executor, sagaId, ['COMPLETED', 'COMPENSATED'])).status).toBe('COMPLETED');
    const before = (await sagaEvents(tdb.pool, sagaId)).length;

    expect(await sagaErrorCode(() => rt.executor.retryCompensation(sagaId, tenantId, 'ops'))).toBe('SAGA_NOT_STUCK');
    expect(await sagaErrorCode(() => rt.executor.skipCompensation(sagaId, tenantId, 'only', 'ops', 'why'))).toBe('SAGA_NOT_STUCK');
    expect(await sagaErrorCode(() => rt.executor.cancel(sagaId, tenantId, 'ops', 'too late'))).toBe('SAGA_NOT_RUNNING');
    expect(await sagaErrorCode(() => rt.executor.cancel(sagaId, 'other-tenant', 'ops', 'not mine'))).toBe('SAGA_NOT_FOUND');
    expect((await sagaEvents(tdb.pool, sagaId)).length).toBe(before);

    // A RUNNING saga is not stuck either.
    const running = await startWorkflow([{ id: 'wait', handler: 'delay', dependsOn: [], config: { ms: 400 } }]);
    expect(await sagaErrorCode(() => rt.executor.retryCompensation(running, tenantId, 'ops'))).toBe('SAGA_NOT_STUCK');
    await waitForStatus(rt.executor, running, 'COMPLETED');
  });

  it('cancel of a RUNNING saga compensates the steps it completed', async () => {
    const sagaId = await startWorkflow([
      { id: 'a', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
      { id: 'b', handler: 'echo', dependsOn: ['a'], config: { v: 2 }, compensation: { handler: 'noop' } },
      { id: 'long', handler: 'delay', dependsOn: ['b'], config: { ms: 1_500 }, compensation: { handler: 'noop' } },
      { id: 'never', handler: 'noop', dependsOn: ['long'], compensation: { handler: 'noop' } },
    ]);
    await waitFor(async () => (await rt.executor.load(sagaId))!.state.steps.long.status === 'RUNNING', 'long to run');

    const after = await rt.executor.cancel(sagaId, tenantId, 'ops@example.com', 'customer changed their mind');
    expect(after.status).toBe('COMPENSATING');
    expect(after.cancelRequested).toMatchObject({ actor: 'ops@example.com', reason: 'customer changed their mind' });

    const state = await waitForStatus(rt.executor, sagaId, ['COMPENSATED', 'COMPENSATION_FAILED', 'COMPLETED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.steps.never.status).toBe('PENDING');
    const events = await sagaEvents(tdb.pool, sagaId);
    const types = events.map((e) => e.type);
    expect(types.indexOf('SagaCancelRequested')).toBeGreaterThan(0);
    expect(events.find((e) => e.type === 'CompensationStarted')!.data).toMatchObject({ actor: 'ops@example.com' });
    // Nothing starts after the cancel, and what completed is undone in reverse order.
    expect(stepsOf(events.slice(types.indexOf('SagaCancelRequested')), 'StepStarted')).toEqual([]);
    const completed = stepsOf(events, 'StepSucceeded');
    expect(stepsOf(events, 'StepCompensated')).toEqual([...completed].reverse());
    expect(completed.slice(0, 2)).toEqual(['a', 'b']);

    // A finished saga cannot be cancelled.
    expect(await sagaErrorCode(() => rt.executor.cancel(sagaId, tenantId, 'ops', 'again'))).toBe('SAGA_NOT_RUNNING');
  });
});
