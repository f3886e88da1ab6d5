import { taskWorkflowPlan } from '../definitions/task-workflow.plan';
import { toCompensationsView, toSagaView } from './saga-view';
import { SagaEvent } from './saga.events';
import { initialSagaState } from './saga.state';
import { at, SagaRun } from './testing/decider-spec';

const input = {
  name: 'wf',
  tasks: [
    { id: 'a', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
    { id: 'b', handler: 'noop', dependsOn: ['a'] },
    { id: 'c', handler: 'noop', dependsOn: ['b'] },
  ],
};
const plan = taskWorkflowPlan(input);
const started: SagaEvent = { type: 'SagaStarted', data: { sagaId: 's1', tenantId: 'acme', sagaType: 'task-workflow', input, plan, at: at(0) } };

describe('toSagaView', () => {
  it('shows a running saga with its steps in plan order', () => {
    const run = new SagaRun(started);
    run.do({ type: 'StartStep', data: { step: 'a', at: at(1) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, output: { n: 1 }, at: at(2) } });
    run.do({ type: 'StartStep', data: { step: 'b', at: at(3) } });
    run.do({ type: 'FailStep', data: { step: 'b', attempt: 1, error: 'flaky', at: at(4), jitter: 0 } });
    expect(toSagaView(run.state, run.events.length - 1)).toEqual({
      sagaId: 's1',
      tenantId: 'acme',
      type: 'task-workflow',
      status: 'RUNNING',
      input,
      steps: [
        { name: 'a', status: 'SUCCEEDED', attempts: 1, startedAt: at(1), finishedAt: at(2), output: { n: 1 } },
        { name: 'b', status: 'FAILED', attempts: 1, startedAt: at(3), error: 'flaky' },
        { name: 'c', status: 'PENDING', attempts: 0 },
      ],
      progress: { completedSteps: 1, totalSteps: 3, percent: 33 },
      version: 5,
      startedAt: at(0),
      updatedAt: at(4),
    });
  });

  it('shows a compensated saga with finishedAt, and its compensation log', () => {
    const run = new SagaRun(started);
    run.do({ type: 'StartStep', data: { step: 'a', at: at(1) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(2) } });
    run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'stop', at: at(3) } });
    run.do({ type: 'StartStepCompensation', data: { step: 'a', at: at(4) } });
    run.do({ type: 'FailStepCompensation', data: { step: 'a', attempt: 1, error: 'down', at: at(5), jitter: 0 } });
    run.do({ type: 'StartStepCompensation', data: { step: 'a', at: at(200) } });
    run.do({ type: 'SucceedStepCompensation', data: { step: 'a', attempt: 2, at: at(201) } });
    const view = toSagaView(run.state, 9);
    expect(view).toMatchObject({ status: 'COMPENSATED', finishedAt: at(201), updatedAt: at(201), version: 9 });
    expect(view.steps[0]).toEqual({ name: 'a', status: 'COMPENSATED', attempts: 1, startedAt: at(1), finishedAt: at(201) });
    expect(toCompensationsView(run.state)).toEqual({
      sagaId: 's1',
      status: 'COMPENSATED',
      entries: [
        { step: 'a', status: 'STARTED', attempt: 1, at: at(4) },
        { step: 'a', status: 'FAILED', attempt: 1, error: 'down', at: at(5) },
        { step: 'a', status: 'STARTED', attempt: 2, at: at(200) },
        { step: 'a', status: 'SUCCEEDED', attempt: 2, at: at(201) },
      ],
    });
  });

  it('refuses a saga that was never started', () => {
    expect(() => toSagaView(initialSagaState(), -1)).toThrow(expect.objectContaining({ code: 'SAGA_NOT_FOUND' }));
  });
});
