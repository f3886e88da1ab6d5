import { taskWorkflowPlan } from './task-workflow.plan';

describe('taskWorkflowPlan', () => {
  it('maps tasks to steps named by task id, with defaults', () => {
    const plan = taskWorkflowPlan({
      name: 'wf',
      tasks: [
        { id: 'a', handler: 'noop', dependsOn: [] },
        {
          id: 'b',
          handler: 'http',
          dependsOn: ['a'],
          priority: 'CRITICAL',
          retry: { maxAttempts: 7, backoffMs: 50 },
          timeoutMs: 1_000,
          compensation: { handler: 'http' },
        },
      ],
    });
    expect(plan).toEqual({
      sagaType: 'task-workflow',
      maxParallel: 4,
      steps: [
        { name: 'a', dependsOn: [], priority: 1, retry: { maxAttempts: 3, backoffMs: 200, multiplier: 2, maxBackoffMs: 30_000 }, timeoutMs: 30_000 },
        {
          name: 'b',
          dependsOn: ['a'],
          priority: 3,
          retry: { maxAttempts: 7, backoffMs: 50, multiplier: 2, maxBackoffMs: 30_000 },
          timeoutMs: 1_000,
          compensation: { retry: { maxAttempts: 5, backoffMs: 200, multiplier: 2, maxBackoffMs: 30_000 }, timeoutMs: 1_000 },
        },
      ],
    });
  });

  it('keeps maxParallel and maps every priority', () => {
    const plan = taskWorkflowPlan({
      name: 'wf',
      maxParallel: 9,
      tasks: (['LOW', 'NORMAL', 'HIGH', 'CRITICAL'] as const).map((priority, i) => ({ id: `t${i}`, handler: 'noop', dependsOn: [], priority })),
    });
    expect(plan.maxParallel).toBe(9);
    expect(plan.steps.map((s) => s.priority)).toEqual([0, 1, 2, 3]);
  });
});
