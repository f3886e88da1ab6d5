import { DEFAULT_WORKFLOW_MAX_PARALLEL, TaskWorkflowInput, agentCapabilityOf, waitSignalOf } from '../core/dag';
import { STEP_PRIORITY, SagaPlan, WAIT_FOREVER_MS, stepPlan } from '../core/saga.types';

/**
 * One step per task, named by the task id, in input order. Expects an input that passed
 * `validateWorkflow`. A task's compensation gets the task's timeout and the default retry policy.
 */
export function taskWorkflowPlan(input: TaskWorkflowInput): SagaPlan {
  const steps = input.tasks.map((task) => {
    const waitFor = waitSignalOf(task);
    // A wait's timeout: its config's, else the task's, else none (as good as forever).
    const waitTimeout = (task.config as { timeoutMs?: number } | undefined)?.timeoutMs ?? task.timeoutMs ?? WAIT_FOREVER_MS;
    return stepPlan(task.id, {
      dependsOn: [...(task.dependsOn ?? [])],
      priority: STEP_PRIORITY[task.priority ?? 'NORMAL'],
      retry: task.retry ? { maxAttempts: task.retry.maxAttempts, backoffMs: task.retry.backoffMs } : undefined,
      timeoutMs: waitFor !== undefined ? waitTimeout : task.timeoutMs,
      compensable: Boolean(task.compensation),
      external: agentCapabilityOf(task.handler) !== undefined,
      ...(waitFor !== undefined ? { waitFor } : {}),
    });
  });
  return { sagaType: 'task-workflow', maxParallel: input.maxParallel ?? DEFAULT_WORKFLOW_MAX_PARALLEL, steps };
}
