import { DomainCommandEnvelope } from '../domain-commands/domain-commands';
import { StepContext, StepFailure, StepOutcome } from './saga-definition';
import { PermanentTaskError, TaskHandlerRegistry } from '../tasks/task-handler';

export interface TaskSpec {
  taskId: string;
  name: string;
  handler: string;
  config: Record<string, unknown>;
  upstream: Record<string, unknown>;
}

/**
 * Runs a task handler outside any transaction (it may call the outside world), then hands back the
 * task's command (scheduled, started and finished in one decision) to commit with the saga's.
 */
export async function runTask(
  ctx: StepContext,
  handlers: TaskHandlerRegistry,
  task: TaskSpec,
): Promise<StepOutcome> {
  const handler = handlers.get(task.handler);
  const startedAt = new Date().toISOString();
  const base = { aggregate: 'task' as const, id: task.taskId, tenantId: ctx.tenantId, metadata: { correlationId: ctx.correlationId } };
  // Scheduled, started and finished in ONE decision on the task aggregate: one append.
  const schedule = {
    type: 'ScheduleTask',
    data: { taskId: task.taskId, sagaId: ctx.sagaId, tenantId: ctx.tenantId, name: task.name, handler: task.handler, config: task.config },
  };
  const start = { type: 'StartTask', data: { attempt: ctx.attempt, at: startedAt } };
  const record = (outcome: { type: string; data: unknown }, phase: string): DomainCommandEnvelope[] => [
    { ...base, commandId: `${ctx.commandId}:${phase}:${ctx.attempt}`, command: schedule, then: [start, outcome] },
  ];
  if (!handler) throw new StepFailure(`unknown task handler ${task.handler}`, false, 'UNKNOWN_HANDLER');
  let output: unknown;
  try {
    output = await handler({
      sagaId: ctx.sagaId,
      tenantId: ctx.tenantId,
      taskId: task.taskId,
      taskName: task.name,
      attempt: ctx.attempt,
      config: task.config,
      upstream: task.upstream,
      idempotencyKey: ctx.commandId,
      signal: ctx.signal,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const failedAt = new Date().toISOString();
    throw new StepFailure(
      message,
      !(err instanceof PermanentTaskError),
      'TASK_FAILED',
      record({ type: 'FailTask', data: { error: { message }, attempt: ctx.attempt, at: failedAt } }, 'fail'),
    );
  }
  const completedAt = new Date().toISOString();
  return {
    output: output ?? null,
    commands: record({ type: 'CompleteTask', data: { output: output ?? null, at: completedAt } }, 'complete'),
  };
}
