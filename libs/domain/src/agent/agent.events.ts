import { DomainEvent } from '../decider';
import { Resources } from '../resources';

export const AgentEventType = {
  AgentRegistered: 'AgentRegistered',
  PermissionsGranted: 'PermissionsGranted',
  PermissionsRevoked: 'PermissionsRevoked',
  AgentActivated: 'AgentActivated',
  AgentDecommissioned: 'AgentDecommissioned',
} as const;

export type AgentRegistered = DomainEvent<
  'AgentRegistered',
  {
    agentId: string;
    tenantId: string;
    name: string;
    type: string;
    capabilities: string[];
    resources: Resources;
    sagaId: string;
  }
>;
/** Lists only the permissions the agent did not hold before, so revoking them undoes exactly this grant. */
export type PermissionsGranted = DomainEvent<'PermissionsGranted', { agentId: string; permissions: string[] }>;
/** Lists only the permissions the agent actually held. */
export type PermissionsRevoked = DomainEvent<'PermissionsRevoked', { agentId: string; permissions: string[] }>;
export type AgentActivated = DomainEvent<'AgentActivated', { agentId: string }>;
export type AgentDecommissioned = DomainEvent<'AgentDecommissioned', { agentId: string; reason: string | null }>;

export type AgentEvent =
  | AgentRegistered
  | PermissionsGranted
  | PermissionsRevoked
  | AgentActivated
  | AgentDecommissioned;
