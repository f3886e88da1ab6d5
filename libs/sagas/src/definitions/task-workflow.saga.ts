import { deterministicUuid } from '@app/event-store';
import { agentCapabilityOf, ancestorsOf, TaskWorkflowInput, validateWorkflow, ValidationProblem, WorkflowTask } from '../core/dag';
import { SagaState } from '../core/saga.state';
import { STEP_PRIORITY } from '../core/saga.types';
import { isSagaError } from '../core/saga.errors';
import { renderTemplates } from '../core/templates';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { ExternalTaskSpec, SagaDefinition, StepContext, StepFailure, StepOutcome } from './saga-definition';
import { PermanentTaskError, TaskHandlerRegistry } from '../tasks/task-handler';
import { taskWorkflowPlan } from './task-workflow.plan';
import { runTask, taskRecordCommands } from './run-task';

/** Outputs of the saga's succeeded steps, by step name. */
function outputsOf(state: SagaState): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(state.steps)) if (s.status === 'SUCCEEDED' || s.output !== undefined) outputs[name] = s.output;
  return outputs;
}

export const workflowTaskIdOf = (sagaId: string, taskId: string) => deterministicUuid(`${sagaId}:task:${taskId}`);

/**
 * TaskWorkflowSaga: a DAG of tasks, each a step named by its task id, run by registered handlers
 * with `{{ taskId.output.path }}` references resolved from upstream outputs. A task with a
 * `compensation` is undone by running that handler (given the task's output).
 */
export class TaskWorkflowSaga implements SagaDefinition<TaskWorkflowInput> {
  readonly type = 'task-workflow' as const;

  constructor(
    readonly commands: DomainCommandDispatcher,
    private readonly handlers: TaskHandlerRegistry,
  ) {}

  validate(input: TaskWorkflowInput): ValidationProblem[] {
    return validateWorkflow(input, this.handlers.names());
  }

  plan(input: TaskWorkflowInput) {
    return taskWorkflowPlan(input);
  }

  /** The task of a step, with the config an operator gave it on resume if any. */
  private task(ctx: { state: SagaState; step: string }): WorkflowTask {
    const task = (ctx.state.input as TaskWorkflowInput).tasks.find((t) => t.id === ctx.step);
    if (!task) throw new StepFailure(`unknown task ${ctx.step}`, false);
    const overrides = ctx.state.configOverrides;
    return overrides && Object.hasOwn(overrides, ctx.step) ? { ...task, config: overrides[ctx.step] } : task;
  }

  private upstream(ctx: { state: SagaState; outputs: Record<string, unknown> }, task: WorkflowTask): Record<string, unknown> {
    const deps = new Map((ctx.state.input as TaskWorkflowInput).tasks.map((t) => [t.id, t.dependsOn ?? []] as const));
    const out: Record<string, unknown> = {};
    for (const id of ancestorsOf(task.id, deps)) if (id in ctx.outputs) out[id] = ctx.outputs[id];
    return out;
  }

  /** An `agent:<capability>` task: queued for any agent of the tenant with that capability. */
  externalTask(state: SagaState, step: string, attempt: number): ExternalTaskSpec {
    const task = this.task({ state, step });
    const capability = agentCapabilityOf(task.handler);
    if (!capability) throw new Error(`task ${step} is not an agent task`);
    const upstream = this.upstream({ state, outputs: outputsOf(state) }, task);
    // A template that cannot be rendered now (a missing path) is the agent's to see: unrendered.
    let input: Record<string, unknown>;
    try {
      input = this.render(task.config, upstream);
    } catch {
      input = (task.config as Record<string, unknown>) ?? {};
    }
    const taskId = workflowTaskIdOf(state.sagaId, task.id);
    const startedAt = state.steps[step]?.startedAt ?? new Date().toISOString();
    return {
      taskId,
      capability,
      priority: STEP_PRIORITY[task.priority ?? 'NORMAL'],
      input,
      ...(task.queue?.delayMs ? { delayMs: task.queue.delayMs } : {}),
      ...(task.queue?.ttlMs ? { ttlMs: task.queue.ttlMs } : {}),
      ...(task.timeoutMs ? { attemptTimeoutMs: task.timeoutMs } : {}),
      outcomeCommands: (outcome, at) =>
        taskRecordCommands(
          { sagaId: state.sagaId, tenantId: state.tenantId, commandId: `${state.sagaId}:${step}:run`, attempt, correlationId: state.correlationId },
          { taskId, name: task.id, handler: task.handler, config: input },
          startedAt,
          'output' in outcome
            ? { type: 'CompleteTask', data: { output: outcome.output ?? null, at } }
            : { type: 'FailTask', data: { error: { message: outcome.error }, attempt, at } },
        ),
    };
  }

  private render(config: unknown, outputs: Record<string, unknown>): Record<string, unknown> {
    try {
      return (renderTemplates(config ?? {}, outputs) as Record<string, unknown>) ?? {};
    } catch (err) {
      if (isSagaError(err)) throw new StepFailure(err.message, false, err.code);
      throw err;
    }
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const task = this.task(ctx);
    const upstream = this.upstream(ctx, task);
    return runTask(ctx, this.handlers, {
      taskId: workflowTaskIdOf(ctx.sagaId, task.id),
      name: task.id,
      handler: task.handler,
      config: this.render(task.config, upstream),
      upstream,
    });
  }

  async compensate(ctx: StepContext): Promise<StepOutcome> {
    const task = this.task(ctx);
    if (!task.compensation) return {};
    const handler = this.handlers.get(task.compensation.handler);
    if (!handler) throw new StepFailure(`unknown compensation handler ${task.compensation.handler}`, false);
    const upstream = this.upstream(ctx, task);
    const own = ctx.state.steps[task.id]?.output;
    const taskId = workflowTaskIdOf(ctx.sagaId, task.id);
    try {
      await handler({
        sagaId: ctx.sagaId,
        tenantId: ctx.tenantId,
        taskId,
        taskName: task.id,
        attempt: ctx.attempt,
        config: this.render(task.compensation.config, { ...upstream, [task.id]: own }),
        upstream,
        output: own,
        idempotencyKey: ctx.commandId,
        signal: ctx.signal,
      });
    } catch (err) {
      if (err instanceof StepFailure) throw err;
      throw new StepFailure(err instanceof Error ? err.message : String(err), !(err instanceof PermanentTaskError));
    }
    return {
      commands: [{ aggregate: 'task', id: taskId, tenantId: ctx.tenantId, commandId: ctx.commandId, ifExists: true, command: { type: 'CompensateTask', data: {} } }],
    };
  }
}
