import { DEFAULT_WORKFLOW_MAX_PARALLEL, TaskWorkflowInput, agentCapabilityOf } from '../core/dag';
import { STEP_PRIORITY, SagaPlan, stepPlan } from '../core/saga.types';

/**
 * One step per task, named by the task id, in input order. Expects an input that passed
 * `validateWorkflow`. A task's compensation gets the task's timeout and the default retry policy.
 */
export function taskWorkflowPlan(input: TaskWorkflowInput): SagaPlan {
  const steps = input.tasks.map((task) =>
    stepPlan(task.id, {
      dependsOn: [...(task.dependsOn ?? [])],
      priority: STEP_PRIORITY[task.priority ?? 'NORMAL'],
      retry: task.retry ? { maxAttempts: task.retry.maxAttempts, backoffMs: task.retry.backoffMs } : undefined,
      timeoutMs: task.timeoutMs,
      compensable: Boolean(task.compensation),
      external: agentCapabilityOf(task.handler) !== undefined,
    }),
  );
  return { sagaType: 'task-workflow', maxParallel: input.maxParallel ?? DEFAULT_WORKFLOW_MAX_PARALLEL, steps };
}
