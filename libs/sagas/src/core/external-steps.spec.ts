import { taskWorkflowPlan } from '../definitions/task-workflow.plan';
import { WorkflowTask } from './dag';
import { advance } from './advance';
import { nextWork } from './next-work';
import { SagaEvent } from './saga.events';
import { SagaPlan } from './saga.types';
import { at, SagaRun, T0 } from './testing/decider-spec';

/** External steps: agent tasks (`agent:<capability>`), whose work is done outside the worker. */

function workflow(tasks: Partial<WorkflowTask>[]): SagaPlan {
  return taskWorkflowPlan({ name: 'wf', maxParallel: 8, tasks: tasks.map((t) => ({ handler: 'noop', dependsOn: [], ...t }) as WorkflowTask) });
}

function started(plan: SagaPlan): SagaEvent {
  return { type: 'SagaStarted', data: { sagaId: 's1', tenantId: 't1', sagaType: plan.sagaType, input: {}, plan, at: at(0) } };
}

const now = (ms: number) => new Date(T0 + ms);

describe('external steps', () => {
  it('are planned external for agent:<capability> handlers only', () => {
    const plan = workflow([{ id: 'a', handler: 'agent:translate' }, { id: 'b' }]);
    expect(plan.steps.map((s) => [s.name, s.external ?? false])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('start without a timeout: the queue bounds the attempt from its lock, not the step from its start', () => {
    const run = new SagaRun(started(workflow([{ id: 'a', handler: 'agent:translate', timeoutMs: 1000 }, { id: 'b', timeoutMs: 1000 }])));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'StartStep', data: { step: 'b', at: at(0) } });
    const [a, b] = run.events.filter((e) => e.type === 'StepStarted');
    expect(a.data).toEqual({ step: 'a', attempt: 1, at: at(0) });
    expect(b.data).toEqual({ step: 'b', attempt: 1, at: at(0), timeoutAt: at(1000) });
    // Long after any step timeout, only the in-process step times out.
    expect(nextWork(run.state, now(60_000)).actions).toEqual([{ kind: 'timeout-step', step: 'b', attempt: 1, phase: 'step', timeoutMs: 1000 }]);
  });

  it('keep the failure code the platform decided (EXPIRED is final, not retried)', () => {
    const run = new SagaRun(started(workflow([{ id: 'a', handler: 'agent:translate' }])));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'FailStep', data: { step: 'a', attempt: 1, error: 'no agent took it', code: 'EXPIRED', retryable: false, at: at(5), jitter: 0 } });
    expect(run.events.find((e) => e.type === 'StepFailed')!.data).toEqual({ step: 'a', attempt: 1, error: 'no agent took it', code: 'EXPIRED', final: true, at: at(5) });
    expect(run.state.steps.a.errorCode).toBe('EXPIRED');
    expect(run.state.status).toBe('COMPENSATED');
  });

  it('are cancelled at once when the saga stops running, so compensation does not wait for the agent', () => {
    const run = new SagaRun(
      started(workflow([{ id: 'a', compensation: { handler: 'noop' } }, { id: 'b', handler: 'agent:translate', dependsOn: ['a'] }])),
    );
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(1) } });
    run.do({ type: 'StartStep', data: { step: 'b', at: at(1) } });
    run.do({ type: 'CancelSaga', data: { actor: 'op', reason: 'stop', at: at(2) } });
    expect(nextWork(run.state, now(2)).actions).toEqual([{ kind: 'cancel-step', step: 'b', attempt: 1 }]);
    const { events, state } = advance(run.state, now(2));
    expect(events.map((e) => e.type)).toEqual(['StepFailed', 'StepCompensationStarted']);
    expect(events[0].data).toMatchObject({ step: 'b', code: 'CANCELLED', final: true });
    expect(state.steps.b).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
    expect(state.steps.a.status).toBe('COMPENSATING');
  });

  it('are not cancelled while the saga runs', () => {
    const run = new SagaRun(started(workflow([{ id: 'b', handler: 'agent:translate' }])));
    run.do({ type: 'StartStep', data: { step: 'b', at: at(0) } });
    expect(advance(run.state, now(10_000)).events).toEqual([]);
  });
});
