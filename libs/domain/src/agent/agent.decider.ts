import { createdBySameSaga, Decider, DomainError } from '../decider';
import { AgentCommand } from './agent.commands';
import { AgentEvent, AgentRegistered } from './agent.events';

export type AgentStatus = 'PROVISIONING' | 'ACTIVE' | 'DECOMMISSIONED';

type Registration = AgentRegistered['data'];

export interface RegisteredAgent extends Registration {
  status: AgentStatus;
  permissions: string[];
  /** The scaling policy's current target (AgentScaled); starts at the policy's min. */
  desiredInstances: number;
  /** Set once an agent-decommissioning saga began. */
  decommissioningSagaId?: string;
  /** The tenant-quota reservation of the instances scaling added beyond the provisioned ones. */
  scaleReservationId?: string;
}

export type AgentState = { status: 'NONE' } | RegisteredAgent;

export const agentStreamId = (agentId: string): string => `agent-${agentId}`;

function registered(state: AgentState): RegisteredAgent {
  if (state.status === 'NONE') throw new DomainError('AGENT_NOT_FOUND', 'agent not found');
  return state;
}

function notDecommissioned(state: AgentState): RegisteredAgent {
  const agent = registered(state);
  if (agent.status === 'DECOMMISSIONED') {
    throw new DomainError('AGENT_DECOMMISSIONED', `agent ${agent.agentId} is decommissioned`, {
      agentId: agent.agentId,
    });
  }
  return agent;
}

export const agentDecider: Decider<AgentState, AgentCommand, AgentEvent> = {
  initialState: () => ({ status: 'NONE' }),

  evolve(state, event) {
    if (event.type === 'AgentRegistered') {
      return { status: 'PROVISIONING', ...event.data, permissions: [], desiredInstances: event.data.scaling?.min ?? 1 };
    }
    if (state.status === 'NONE') return state;
    switch (event.type) {
      case 'PermissionsGranted':
        return { ...state, permissions: [...state.permissions, ...event.data.permissions] };
      case 'PermissionsRevoked': {
        const revoked = new Set(event.data.permissions);
        return { ...state, permissions: state.permissions.filter((p) => !revoked.has(p)) };
      }
      case 'AgentActivated':
        return { ...state, status: 'ACTIVE' };
      case 'AgentDecommissioned':
        return { ...state, status: 'DECOMMISSIONED' };
      case 'AgentScaled': {
        const { reservationId } = event.data;
        if (reservationId === undefined) return { ...state, desiredInstances: event.data.to };
        return { ...state, desiredInstances: event.data.to, scaleReservationId: reservationId ?? undefined };
      }
      case 'AgentDecommissioningStarted':
        return { ...state, decommissioningSagaId: event.data.sagaId };
    }
    return state;
  },

  decide(command, state) {
    switch (command.type) {
      case 'RegisterAgent': {
        const agentExists = (agent: RegisteredAgent) => new DomainError('AGENT_EXISTS', `agent ${agent.agentId} already exists`, { agentId: agent.agentId });
        if (createdBySameSaga(state, command.data.sagaId, agentExists)) return [];
        const { capabilities, resources, scaling, ...rest } = command.data;
        return [
          {
            type: 'AgentRegistered',
            data: { ...rest, capabilities: [...capabilities], resources: { ...resources }, ...(scaling ? { scaling: { ...scaling } } : {}) },
          },
        ];
      }
      case 'GrantPermissions': {
        const agent = notDecommissioned(state);
        const allowed = new Set(command.data.allowedPermissions);
        const notAllowed = unique(command.data.permissions.filter((p) => !allowed.has(p)));
        if (notAllowed.length > 0) {
          const message = `permissions not allowed for the tenant: ${notAllowed.join(', ')}`;
          throw new DomainError('PERMISSION_NOT_ALLOWED', message, {
            agentId: agent.agentId,
            permissions: notAllowed,
          });
        }
        const held = new Set(agent.permissions);
        const granted = unique(command.data.permissions.filter((p) => !held.has(p)));
        if (granted.length === 0) return [];
        return [{ type: 'PermissionsGranted', data: { agentId: agent.agentId, permissions: granted } }];
      }
      case 'RevokePermissions': {
        // Allowed on a decommissioned agent: it is a compensation and must be able to finish.
        const agent = registered(state);
        const held = new Set(agent.permissions);
        const revoked = unique(command.data.permissions.filter((p) => held.has(p)));
        if (revoked.length === 0) return [];
        return [{ type: 'PermissionsRevoked', data: { agentId: agent.agentId, permissions: revoked } }];
      }
      case 'ActivateAgent': {
        const agent = notDecommissioned(state);
        if (agent.status === 'ACTIVE') return [];
        return [{ type: 'AgentActivated', data: { agentId: agent.agentId } }];
      }
      case 'ScaleAgent': {
        const agent = notDecommissioned(state);
        const { desired, reason, cappedByQuota, uncapped, reservationId } = command.data;
        if (!Number.isInteger(desired) || desired < 0) throw new DomainError('INVALID_SCALE', `desired instances must be a whole number ≥ 0, not ${desired}`);
        // The same target with the same reservation changes nothing; a new reservation is recorded.
        const sameReservation = reservationId === undefined || (reservationId ?? undefined) === agent.scaleReservationId;
        if (desired === agent.desiredInstances && sameReservation) return [];
        return [
          {
            type: 'AgentScaled',
            data: {
              agentId: agent.agentId,
              from: agent.desiredInstances,
              to: desired,
              reason,
              ...(cappedByQuota ? { cappedByQuota: true, ...(uncapped !== undefined ? { uncapped } : {}) } : {}),
              ...(reservationId !== undefined ? { reservationId } : {}),
            },
          },
        ];
      }
      case 'StartDecommissioning': {
        const agent = notDecommissioned(state);
        if (agent.decommissioningSagaId === command.data.sagaId) return [];
        if (agent.decommissioningSagaId) {
          throw new DomainError('AGENT_DECOMMISSIONING', `agent ${agent.agentId} is already being decommissioned`, {
            agentId: agent.agentId,
            sagaId: agent.decommissioningSagaId,
          });
        }
        return [{ type: 'AgentDecommissioningStarted', data: { agentId: agent.agentId, sagaId: command.data.sagaId, reason: command.data.reason } }];
      }
      case 'DecommissionAgent': {
        const agent = registered(state);
        if (agent.status === 'DECOMMISSIONED') return [];
        return [{ type: 'AgentDecommissioned', data: { agentId: agent.agentId, reason: command.data.reason ?? null } }];
      }
    }
  },
};

const unique = (values: string[]): string[] => [...new Set(values)];
