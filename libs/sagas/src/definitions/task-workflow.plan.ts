import { DEFAULT_WORKFLOW_MAX_PARALLEL, TaskWorkflowInput } from '../core/dag';
import {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_STEP_RETRY,
  DEFAULT_STEP_TIMEOUT_MS,
  STEP_PRIORITY,
  SagaPlan,
  StepPlan,
} from '../core/saga.types';

/**
 * One step per task, named by the task id, in input order. Expects an input that passed
 * `validateWorkflow`. A task's compensation gets the task's timeout and the default retry policy.
 */
export function taskWorkflowPlan(input: TaskWorkflowInput): SagaPlan {
  const steps: StepPlan[] = input.tasks.map((task) => {
    const timeoutMs = task.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
    return {
      name: task.id,
      dependsOn: [...(task.dependsOn ?? [])],
      priority: STEP_PRIORITY[task.priority ?? 'NORMAL'],
      retry: {
        ...DEFAULT_STEP_RETRY,
        ...(task.retry ? { maxAttempts: task.retry.maxAttempts, backoffMs: task.retry.backoffMs } : {}),
      },
      timeoutMs,
      ...(task.compensation ? { compensation: { retry: { ...DEFAULT_COMPENSATION_RETRY }, timeoutMs } } : {}),
    };
  });
  return { sagaType: 'task-workflow', maxParallel: input.maxParallel ?? DEFAULT_WORKFLOW_MAX_PARALLEL, steps };
}
