import { taskWorkflowPlan } from '../definitions/task-workflow.plan';
import { advance } from './advance';
import { WorkflowTask } from './dag';
import { SagaEvent } from './saga.events';
import { SagaPlan } from './saga.types';
import { at, SagaRun, T0 } from './testing/decider-spec';

// advance(): the transitions due at once after a decision (committed with it by the executor).

function workflow(tasks: Partial<WorkflowTask>[], maxParallel?: number): SagaPlan {
  return taskWorkflowPlan({
    name: 'wf',
    maxParallel,
    tasks: tasks.map((t) => ({ handler: 'noop', dependsOn: [], retry: { maxAttempts: 1, backoffMs: 0 }, ...t }) as WorkflowTask),
  });
}

function started(plan: SagaPlan): SagaEvent {
  return { type: 'SagaStarted', data: { sagaId: 's1', tenantId: 't1', sagaType: plan.sagaType, input: {}, plan, at: at(0) } };
}

const now = (ms: number) => new Date(T0 + ms);
const described = (events: SagaEvent[]) => events.map((e) => `${e.type}${(e.data as { step?: string }).step ? `:${(e.data as { step: string }).step}` : ''}`);

describe('advance', () => {
  it('given a new saga: starts every ready step, up to maxParallel, in priority order', () => {
    const run = new SagaRun(started(workflow([{ id: 'a' }, { id: 'b', priority: 'HIGH' }, { id: 'c' }, { id: 'd', dependsOn: ['a'] }], 2)));
    const { events, state } = advance(run.state, now(0));
    expect(described(events)).toEqual(['StepStarted:b', 'StepStarted:a']);
    expect(state.steps.a.status).toBe('RUNNING');
    expect(state.steps.c.status).toBe('PENDING');
  });

  it('given a step just succeeded: starts the steps it unblocked', () => {
    const run = new SagaRun(started(workflow([{ id: 'a' }, { id: 'b', dependsOn: ['a'] }, { id: 'c', dependsOn: ['a'] }, { id: 'd', dependsOn: ['b', 'c'] }])));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(1) } });
    expect(described(advance(run.state, now(1)).events)).toEqual(['StepStarted:b', 'StepStarted:c']);
  });

  it('given steps in flight and nothing ready: nothing', () => {
    const run = new SagaRun(started(workflow([{ id: 'a' }, { id: 'b', dependsOn: ['a'] }])));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    expect(advance(run.state, now(1)).events).toEqual([]);
  });

  it('given a final failure: starts the compensation of the latest completed step only (reverse order, one at a time)', () => {
    const run = new SagaRun(
      started(
        workflow([
          { id: 'a', compensation: { handler: 'noop' } },
          { id: 'b', dependsOn: ['a'], compensation: { handler: 'noop' } },
          { id: 'c', dependsOn: ['b'] },
        ]),
      ),
    );
    for (const [k, step] of ['a', 'b'].entries()) {
      run.do({ type: 'StartStep', data: { step, at: at(k) } });
      run.do({ type: 'SucceedStep', data: { step, attempt: 1, at: at(k) } });
    }
    run.do({ type: 'StartStep', data: { step: 'c', at: at(3) } });
    run.do({ type: 'FailStep', data: { step: 'c', attempt: 1, error: 'boom', at: at(4), jitter: 0.5 } });
    const first = advance(run.state, now(4));
    expect(described(first.events)).toEqual(['StepCompensationStarted:b']);
    run.events.push(...first.events);
    run.do({ type: 'SucceedStepCompensation', data: { step: 'b', attempt: 1, at: at(5) } });
    expect(described(advance(run.state, now(5)).events)).toEqual(['StepCompensationStarted:a']);
  });

  it('given the last compensation done: the saga is COMPENSATED by that decision, nothing more is due', () => {
    const run = new SagaRun(started(workflow([{ id: 'a', compensation: { handler: 'noop' } }, { id: 'b', dependsOn: ['a'] }])));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'SucceedStep', data: { step: 'a', attempt: 1, at: at(1) } });
    run.do({ type: 'StartStep', data: { step: 'b', at: at(2) } });
    run.do({ type: 'FailStep', data: { step: 'b', attempt: 1, error: 'boom', at: at(3), jitter: 0.5 } });
    run.events.push(...advance(run.state, now(3)).events);
    expect(run.do({ type: 'SucceedStepCompensation', data: { step: 'a', attempt: 1, at: at(4) } }).map((e) => e.type)).toEqual([
      'StepCompensated',
      'SagaCompensated',
    ]);
    expect(run.state.status).toBe('COMPENSATED');
    expect(advance(run.state, now(4)).events).toEqual([]);
  });

  it('given a retry not yet due: nothing until it is, then the next attempt', () => {
    const run = new SagaRun(started(workflow([{ id: 'a', retry: { maxAttempts: 3, backoffMs: 1000 } }])));
    run.do({ type: 'StartStep', data: { step: 'a', at: at(0) } });
    run.do({ type: 'FailStep', data: { step: 'a', attempt: 1, error: 'flaky', at: at(1), jitter: 0 } });
    expect(advance(run.state, now(2)).events).toEqual([]);
    const later = advance(run.state, now(60_000)).events;
    expect(described(later)).toEqual(['StepStarted:a']);
    expect((later[0].data as { attempt: number }).attempt).toBe(2);
  });
});
