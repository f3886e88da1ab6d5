import { PoolClient } from 'pg';
import { ValidationProblem } from '../core/dag';
import { STEP_PRIORITY, SagaPlan, stepPlan } from '../core/saga.types';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { SagaDefinition, StepContext, StepFailure, StepOutcome } from './saga-definition';

export interface AgentDecommissioningInput {
  agentId: string;
  reason: string;
}

/**
 * What the decommissioning does to an agent's running fleet, outside the event-sourced aggregates
 * (its instances, queue locks and keys live in tables of libs/agents). Inside the step's
 * transaction, idempotent.
 */
export interface AgentFleet {
  /** Forgets the agent's instances and returns the tasks they hold to the queue. */
  stopInstances(tx: PoolClient, tenantId: string, agentId: string): Promise<void>;
  /** Revokes every key of the agent: it gets 401 from now on. */
  revokeKeys(tx: PoolClient, agentId: string): Promise<void>;
}

export const AGENT_DECOMMISSIONING_STEPS = [
  'begin-decommissioning',
  'stop-instances',
  'deregister-service',
  'revoke-permissions',
  'revoke-keys',
  'release-resources',
  'decommission-agent',
] as const;

/**
 * AgentDecommissioningSaga: the agent stops taking work (its instances get 409 on poll and the
 * local runtime stops them), its instances are forgotten and their tasks go back to the queue, the
 * service is deregistered, permissions and keys are revoked, the resources released, and the agent
 * is DECOMMISSIONED. Every step goes forward (retried, never undone): a half-decommissioned agent
 * is finished by retrying, not by bringing it back. Only the first step can refuse (an agent that
 * is already decommissioned or unknown), and then nothing has happened.
 */
export class AgentDecommissioningSaga implements SagaDefinition<AgentDecommissioningInput> {
  readonly type = 'agent-decommissioning' as const;

  constructor(
    readonly commands: DomainCommandDispatcher,
    private readonly fleet: AgentFleet,
  ) {}

  validate(input: AgentDecommissioningInput): ValidationProblem[] {
    const problems: ValidationProblem[] = [];
    if (typeof input?.agentId !== 'string' || !/^[0-9a-f-]{36}$/i.test(input.agentId)) problems.push({ field: 'agentId', message: 'must be a uuid' });
    if (typeof input?.reason !== 'string' || input.reason.length === 0) problems.push({ field: 'reason', message: 'must be a non-empty string' });
    return problems;
  }

  plan(_input: AgentDecommissioningInput): SagaPlan {
    const steps = AGENT_DECOMMISSIONING_STEPS.map((name, i) =>
      stepPlan(name, {
        dependsOn: i === 0 ? [] : [AGENT_DECOMMISSIONING_STEPS[i - 1]],
        priority: STEP_PRIORITY.HIGH,
        compensable: false,
        retry: { maxAttempts: i === 0 ? 1 : 10 },
      }),
    );
    return { sagaType: 'agent-decommissioning', maxParallel: 1, steps };
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const { agentId, reason } = ctx.state.input as AgentDecommissioningInput;
    const env = { tenantId: ctx.tenantId, commandId: ctx.commandId, metadata: { correlationId: ctx.correlationId } };
    const loadAgent = async (tx: PoolClient) => {
      const agent = await this.commands.load('agent', agentId, tx);
      const state = agent.state as { status: string; tenantId?: string; sagaId?: string; permissions?: string[]; scaleReservationId?: string } | undefined;
      if (!state || state.status === 'NONE' || state.tenantId !== ctx.tenantId) throw new StepFailure(`agent ${agentId} not found`, false, 'AGENT_NOT_FOUND');
      return state;
    };
    switch (ctx.step) {
      case 'begin-decommissioning':
        return {
          output: { agentId },
          record: async (tx) => {
            await loadAgent(tx);
            return this.commands.dispatch({ ...env, tx, aggregate: 'agent', id: agentId, command: { type: 'StartDecommissioning', data: { sagaId: ctx.sagaId, reason } } });
          },
        };
      case 'stop-instances':
        return { output: { agentId }, record: (tx) => this.fleet.stopInstances(tx, ctx.tenantId, agentId) };
      case 'deregister-service':
        return { commands: [{ ...env, aggregate: 'service', id: agentId, ifExists: true, command: { type: 'DeregisterService', data: {} } }] };
      case 'revoke-permissions':
        return {
          record: async (tx) => {
            const agent = await loadAgent(tx);
            const permissions = agent.permissions ?? [];
            if (!permissions.length) return undefined;
            return this.commands.dispatch({ ...env, tx, aggregate: 'agent', id: agentId, command: { type: 'RevokePermissions', data: { permissions } } });
          },
        };
      case 'revoke-keys':
        return { record: (tx) => this.fleet.revokeKeys(tx, agentId) };
      case 'release-resources':
        return {
          record: async (tx) => {
            const agent = await loadAgent(tx);
            // The provisioned instances' reservation, and the one of instances scaling added.
            const reservations = [agent.sagaId, agent.scaleReservationId].filter((r): r is string => Boolean(r));
            for (const [i, reservationId] of reservations.entries()) {
              await this.commands.dispatch({
                ...env,
                commandId: `${ctx.commandId}:release:${i}`,
                tx,
                aggregate: 'quota',
                id: ctx.tenantId,
                command: { type: 'ReleaseResources', data: { reservationId } },
              });
            }
            return undefined;
          },
        };
      case 'decommission-agent':
        return {
          output: { agentId, status: 'DECOMMISSIONED' },
          commands: [{ ...env, aggregate: 'agent', id: agentId, command: { type: 'DecommissionAgent', data: { reason } } }],
        };
    }
    throw new Error(`agent-decommissioning: unknown step ${ctx.step}`);
  }

  async compensate(_ctx: StepContext): Promise<StepOutcome> {
    return {};
  }
}
