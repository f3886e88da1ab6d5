import { taskWorkflowPlan } from '../definitions/task-workflow.plan';
import { WorkflowTask } from './dag';
import { nextWork } from './next-work';
import { SagaEvent } from './saga.events';
import { SagaPlan } from './saga.types';
import { at, SagaRun, T0 } from './testing/decider-spec';

function workflow(tasks: Partial<WorkflowTask>[], maxParallel?: number): SagaPlan {
  return taskWorkflowPlan({
    name: 'wf',
    maxParallel,
    tasks: tasks.map((t) => ({ handler: 'noop', dependsOn: [], ...t }) as WorkflowTask),
  });
}

function started(plan: SagaPlan): SagaEvent {
  return { type: 'SagaStarted', data: { sagaId: 's1', tenantId: 't1', sagaType: plan.sagaType, input: {}, plan, at: at(0) } };
}

const now = (ms: number) => new Date(T0 + ms);

describe('nextWork', () => {
  it('starts the highest priority steps first, then plan order, up to maxParallel', () => {
    const plan = workflow(
      [
        { id: 'low', priority: 'LOW' },
        { id: 'normal-1' },
        { id: 'critical', priority: 'CRITICAL' },
        { id: 'normal-2', priority: 'NORMAL' },
        { id: 'high', priority: 'HIGH' },
      ],
      2,
    );
    const run = new SagaRun(started(plan));
    expect(nextWork(run.state, now(0)).actions).toEqual([
      { kind: 'start-step', step: 'critical' },
      { kind: 'start-step', step: 'high' },
    ]);

    run.do({ type: 'StartStep', data: { step: 'critical', at: at(0) } });
    expect(nextWork(run.state, now(0)).actions).toEqual([{ kind: 'start-step', step: 'high' }]);
    run.do({ type: 'StartStep', data: { step: 'high', at: at(0) } });
    // both slots taken
    expect(nextWork(run.state, now(1)).actions).toEqual([]);

    run.do({ type: 'SucceedStep', data: { step: 'high', attempt: 1, at: at(2) } });
    expect(nextWork(run.state, now(2)).actions).toEqual([{ kind: 'start-step', step: 'normal-1' }]);
  });

  it('waits for dependencies', () => {
    const plan = workflow([{ id: 'a' }, { id: 'b', dependsOn: ['a'], priority: 'CRITICAL' }, { id: 'c', dependsOn: ['a', 'b'] }], 4);
    const run = new SagaRun(started(plan));
    expect(nextWork(run.state, now(0)).actions).toEqual([{ kind: 'start-step', step: 'a' }]);
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(1) } });
    expect(nextWork(run.state, now(1)).actions).toEqual([{ kind: 'start-step', step: 'b' }]);
  });

  it('proposes a retry once it is due and tells when that is', () => {
    const plan = workflow([{ id: 'a' }]);
    const run = new SagaRun(started(plan));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'FailStep', data: { step: 'a', attempt: 1, error: 'flaky', at: at(100), jitter: 0 } }); // due at 200
    expect(nextWork(run.state, now(150))).toEqual({ actions: [], nextDueAt: at(200) });
    expect(nextWork(run.state, now(200))).toEqual({ actions: [{ kind: 'retry-step', step: 'a' }] });
  });

  it('ranks retries among new steps by priority within maxParallel', () => {
    const plan = workflow([{ id: 'new' }, { id: 'flaky', priority: 'HIGH' }], 1);
    const run = new SagaRun(started(plan));
    run.do({ type: 'StartStep', data: { step: 'flaky', at: at(0) } });
    run.do({ type: 'FailStep', data: { step: 'flaky', attempt: 1, error: 'e', at: at(0), jitter: 0 } });
    expect(nextWork(run.state, now(100)).actions).toEqual([{ kind: 'retry-step', step: 'flaky' }]);
    // before the retry is due, the slot goes to the other step
    expect(nextWork(run.state, now(50))).toEqual({ actions: [{ kind: 'start-step', step: 'new' }], nextDueAt: at(100) });
  });

  it('reports a timed-out attempt, and the timeout as the next due time before that', () => {
    const plan = workflow([{ id: 'a', timeoutMs: 1_000 }, { id: 'b', timeoutMs: 5_000 }], 2);
    const run = new SagaRun(started(plan));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'StartStep', data: { step: 'b', at: at(0) } });
    expect(nextWork(run.state, now(999))).toEqual({ actions: [], nextDueAt: at(1_000) });
    expect(nextWork(run.state, now(1_000))).toEqual({
      actions: [{ kind: 'timeout-step', step: 'a', attempt: 1, phase: 'step', timeoutMs: 1_000 }],
      nextDueAt: at(5_000),
    });
    // the executor turns it into a failure: a retry is scheduled
    const produced = run.do({ type: 'FailStep', data: { step: 'a', attempt: 1, error: 'timeout after 1000 ms', at: at(1_000), jitter: 0 } });
    expect(produced.map((e) => e.type)).toEqual(['StepFailed', 'StepRetryScheduled']);
    expect(run.state.steps.a.error).toBe('timeout after 1000 ms');
  });

  it('reports a timed-out compensation', () => {
    const plan = workflow([{ id: 'a', timeoutMs: 2_000, compensation: { handler: 'noop' } }, { id: 'b', dependsOn: ['a'] }]);
    const run = new SagaRun(started(plan));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(0) } });
    run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(1) } });
    expect(nextWork(run.state, now(1)).actions).toEqual([{ kind: 'compensate-step', step: 'a' }]);
    run.do({ type: 'StartStepCompensation', data: { step: 'a', at: at(1) } });
    expect(nextWork(run.state, now(2))).toEqual({ actions: [], nextDueAt: at(2_001) });
    expect(nextWork(run.state, now(2_001)).actions).toEqual([
      { kind: 'timeout-step', step: 'a', attempt: 1, phase: 'compensation', timeoutMs: 2_000 },
    ]);
  });

  it('only times out steps in flight while compensating, and compensates after they settle', () => {
    const plan = workflow([{ id: 'a', compensation: { handler: 'noop' } }, { id: 'b', timeoutMs: 1_000 }], 2);
    const run = new SagaRun(started(plan));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'StartStep', data: { step: 'b', at: at(0) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(1) } });
    run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(2) } });
    expect(nextWork(run.state, now(3))).toEqual({ actions: [], nextDueAt: at(1_000) });
    expect(nextWork(run.state, now(1_000)).actions).toEqual([{ kind: 'timeout-step', step: 'b', attempt: 1, phase: 'step', timeoutMs: 1_000 }]);
    run.do({ type: 'FailStep', data: { step: 'b', attempt: 1, error: 'timeout after 1000 ms', at: at(1_000), jitter: 0 } });
    expect(run.state.steps.b.status).toBe('FAILED');
    expect(nextWork(run.state, now(1_000)).actions).toEqual([{ kind: 'compensate-step', step: 'a' }]);
  });

  it('has nothing to do for finished or stuck sagas', () => {
    const plan = workflow([{ id: 'a', compensation: { handler: 'noop' } }, { id: 'b', dependsOn: ['a'] }]);
    const done = new SagaRun(started(plan));
    for (const step of ['a', 'b']) {
      done.do({ type: 'StartStep', data: { step, at: at(0) } });
      done.do({ type: 'SucceedStep', data: { step, attempt: 1, at: at(0) } });
    }
    expect(done.state.status).toBe('COMPLETED');
    expect(nextWork(done.state, now(10 ** 9))).toEqual({ actions: [] });

    const stuck = new SagaRun(started(plan));
    stuck.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    stuck.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(0) } });
    stuck.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(0) } });
    stuck.do({ type: 'StartStepCompensation', data: { step: 'a', at: at(0) } });
    stuck.do({ type: 'FailStepCompensation', data: { step: 'a', attempt: 1, error: 'e', at: at(0), jitter: 0, retryable: false } });
    expect(stuck.state.status).toBe('COMPENSATION_FAILED');
    expect(nextWork(stuck.state, now(10 ** 9))).toEqual({ actions: [] });
  });

  it('has nothing to do for a saga that was never started', () => {
    expect(nextWork(new SagaRun().state, now(0))).toEqual({ actions: [] });
  });
});
