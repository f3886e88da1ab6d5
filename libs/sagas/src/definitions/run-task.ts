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
 * The task aggregate's record of one attempt: scheduled, started and finished in ONE decision (one
 * append), committed with the saga's outcome of the step. `commandId` is the step's.
 */
export function taskRecordCommands(
  ids: { sagaId: string; tenantId: string; commandId: string; attempt: number; correlationId?: string },
  task: Pick<TaskSpec, 'taskId' | 'name' | 'handler' | 'config'>,
  startedAt: string,
  outcome: { type: 'CompleteTask'; data: { output: unknown; at: string } } | { type: 'FailTask'; data: { error: { message: string }; attempt: number; at: string } },
): DomainCommandEnvelope[] {
  const phase = outcome.type === 'CompleteTask' ? 'complete' : 'fail';
  const schedule = {
    type: 'ScheduleTask',
    data: { taskId: task.taskId, sagaId: ids.sagaId, tenantId: ids.tenantId, name: task.name, handler: task.handler, config: task.config },
  };
  const start = { type: 'StartTask', data: { attempt: ids.attempt, at: startedAt } };
  return [
    {
      aggregate: 'task',
      id: task.taskId,
      tenantId: ids.tenantId,
      metadata: { correlationId: ids.correlationId },
      commandId: `${ids.commandId}:${phase}:${ids.attempt}`,
      command: schedule,
      then: [start, outcome],
    },
  ];
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
  const record = (outcome: Parameters<typeof taskRecordCommands>[3]): DomainCommandEnvelope[] =>
    taskRecordCommands(ctx, task, startedAt, outcome);
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
      (err as { code?: unknown } | null)?.code === 'CIRCUIT_OPEN' ? 'CIRCUIT_OPEN' : 'TASK_FAILED',
      record({ type: 'FailTask', data: { error: { message }, attempt: ctx.attempt, at: failedAt } }),
    );
  }
  const completedAt = new Date().toISOString();
  return {
    output: output ?? null,
    commands: record({ type: 'CompleteTask', data: { output: output ?? null, at: completedAt } }),
  };
}
