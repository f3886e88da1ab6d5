import { deterministicUuid } from '@app/event-store';
import { ValidationProblem } from '../core/dag';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { ExternalTaskSpec, SagaDefinition, StepContext, StepOutcome } from './saga-definition';
import { TaskHandlerRegistry } from '../tasks/task-handler';
import {
  AGENT_INITIAL_TASK_HANDLER,
  AgentProvisioningInput,
  DEFAULT_INITIAL_TASK_TTL_MS,
  agentProvisioningPlan,
  reservedInstances,
} from './agent-provisioning.plan';
import { runTask, taskRecordCommands } from './run-task';
import { SagaState } from '../core/saga.state';
import { STEP_PRIORITY } from '../core/saga.types';

export const agentIdOf = (sagaId: string) => deterministicUuid(`${sagaId}:agent`);
export const initialTaskIdOf = (sagaId: string) => deterministicUuid(`${sagaId}:initial-task`);

/**
 * AgentProvisioningSaga: register the agent, reserve resources, grant permissions, register the
 * service, run the initial task as a smoke test, activate (the pivot). Each effect is a domain
 * command committed with the saga's decision: declared as `commands`, so agent and task commands
 * join the worker's group commit; quota (snapshotted) and service (name claim) commands, and the
 * permission grant (it reads the tenant first), commit on their own.
 */
export class AgentProvisioningSaga implements SagaDefinition<AgentProvisioningInput> {
  readonly type = 'agent-provisioning' as const;

  constructor(
    readonly commands: DomainCommandDispatcher,
    private readonly handlers: TaskHandlerRegistry,
  ) {}

  validate(input: AgentProvisioningInput): ValidationProblem[] {
    const task = input.agent?.initialTask;
    if (task && task.handler !== AGENT_INITIAL_TASK_HANDLER && !this.handlers.get(task.handler)) {
      return [{ field: 'agent.initialTask.handler', message: `unknown handler "${task.handler}" (or "agent": run it on the agent)` }];
    }
    if (task?.queue !== undefined && task.handler !== AGENT_INITIAL_TASK_HANDLER) {
      return [{ field: 'agent.initialTask.queue', message: 'only an initial task with handler "agent" is queued' }];
    }
    return [];
  }

  /** The initial task run on the agent being provisioned: addressed to it, within its TTL. */
  externalTask(state: SagaState, step: string, attempt: number): ExternalTaskSpec {
    const { agent } = state.input as AgentProvisioningInput;
    const task = agent.initialTask;
    if (step !== 'run-initial-task' || !task) throw new Error(`agent-provisioning: ${step} is not an agent task`);
    const taskId = initialTaskIdOf(state.sagaId);
    const config = (task.config as Record<string, unknown>) ?? {};
    const startedAt = state.steps[step]?.startedAt ?? new Date().toISOString();
    return {
      taskId,
      agentId: agentIdOf(state.sagaId),
      priority: STEP_PRIORITY.HIGH,
      input: config,
      ttlMs: task.queue?.ttlMs ?? DEFAULT_INITIAL_TASK_TTL_MS,
      outcomeCommands: (outcome, at) =>
        taskRecordCommands(
          { sagaId: state.sagaId, tenantId: state.tenantId, commandId: `${state.sagaId}:${step}:run`, attempt, correlationId: state.correlationId },
          { taskId, name: task.name, handler: task.handler, config },
          startedAt,
          'output' in outcome
            ? { type: 'CompleteTask', data: { output: outcome.output ?? null, at } }
            : { type: 'FailTask', data: { error: { message: outcome.error }, attempt, at } },
        ),
    };
  }

  plan(input: AgentProvisioningInput) {
    return agentProvisioningPlan(input);
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const { agent } = ctx.state.input as AgentProvisioningInput;
    const agentId = agentIdOf(ctx.sagaId);
    const env = { tenantId: ctx.tenantId, commandId: ctx.commandId, metadata: { correlationId: ctx.correlationId } };
    const instances = reservedInstances(ctx.state.input as AgentProvisioningInput);
    const reserved = { cpuMillis: agent.resources.cpuMillis * instances, memoryMb: agent.resources.memoryMb * instances };
    switch (ctx.step) {
      case 'register-agent':
        return {
          output: { agentId },
          commands: [
            {
              ...env,
              aggregate: 'agent',
              id: agentId,
              command: {
                type: 'RegisterAgent',
                data: {
                  agentId,
                  tenantId: ctx.tenantId,
                  name: agent.name,
                  type: agent.type,
                  capabilities: agent.capabilities,
                  resources: agent.resources,
                  sagaId: ctx.sagaId,
                  ...(agent.scaling ? { scaling: agent.scaling } : {}),
                },
              },
            },
          ],
        };
      case 'reserve-resources':
        return {
          output: { ...reserved },
          commands: [
            { ...env, aggregate: 'quota', id: ctx.tenantId, command: { type: 'ReserveResources', data: { reservationId: ctx.sagaId, ...reserved } } },
          ],
        };
      case 'grant-permissions':
        return {
          output: { permissions: agent.permissions },
          record: async (tx) => {
            const tenant = await this.commands.load('tenant', ctx.tenantId, tx);
            const allowedPermissions: string[] = tenant.state?.allowedPermissions ?? [];
            return this.commands.dispatch({
              ...env,
              tx,
              aggregate: 'agent',
              id: agentId,
              command: { type: 'GrantPermissions', data: { permissions: agent.permissions, allowedPermissions } },
            });
          },
        };
      case 'register-service':
        return {
          output: { agentId, name: agent.name },
          // Not grouped: the service-name claim is a write of its own (see DomainCommandExecutor).
          commands: [
            {
              ...env,
              aggregate: 'service',
              id: agentId,
              command: {
                type: 'RegisterService',
                data: { agentId, tenantId: ctx.tenantId, name: agent.name, capabilities: agent.capabilities, status: 'HEALTHY' },
              },
            },
          ],
        };
      case 'run-initial-task': {
        const task = agent.initialTask;
        if (!task) return { output: { skipped: true, reason: 'no initial task' } };
        return runTask(ctx, this.handlers, {
          taskId: initialTaskIdOf(ctx.sagaId),
          name: task.name,
          handler: task.handler,
          config: (task.config as Record<string, unknown>) ?? {},
          upstream: {},
        });
      }
      case 'activate-agent':
        return {
          output: { agentId, status: 'ACTIVE' },
          commands: [{ ...env, aggregate: 'agent', id: agentId, command: { type: 'ActivateAgent', data: {} } }],
        };
    }
    throw new Error(`agent-provisioning: unknown step ${ctx.step}`);
  }

  async compensate(ctx: StepContext): Promise<StepOutcome> {
    const { agent } = ctx.state.input as AgentProvisioningInput;
    const agentId = agentIdOf(ctx.sagaId);
    const env = { tenantId: ctx.tenantId, commandId: ctx.commandId, metadata: { correlationId: ctx.correlationId } };
    const reason = `saga ${ctx.sagaId} compensating`;
    switch (ctx.step) {
      case 'register-agent':
        return {
          commands: [{ ...env, aggregate: 'agent', id: agentId, command: { type: 'DecommissionAgent', data: { reason } } }],
        };
      case 'reserve-resources':
        return {
          commands: [{ ...env, aggregate: 'quota', id: ctx.tenantId, command: { type: 'ReleaseResources', data: { reservationId: ctx.sagaId } } }],
        };
      case 'grant-permissions':
        return {
          commands: [{ ...env, aggregate: 'agent', id: agentId, command: { type: 'RevokePermissions', data: { permissions: agent.permissions } } }],
        };
      case 'register-service':
        return {
          commands: [{ ...env, aggregate: 'service', id: agentId, command: { type: 'DeregisterService', data: {} } }],
        };
      case 'run-initial-task': {
        if (!agent.initialTask) return {};
        const taskId = initialTaskIdOf(ctx.sagaId);
        return {
          commands: [{ ...env, aggregate: 'task', id: taskId, ifExists: true, command: { type: 'CancelTask', data: { reason } } }],
        };
      }
    }
    return {};
  }
}
