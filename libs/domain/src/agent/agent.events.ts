import { DomainEvent } from '../decider';
import { Resources } from '../resources';

export const AgentEventType = {
  AgentRegistered: 'AgentRegistered',
  PermissionsGranted: 'PermissionsGranted',
  PermissionsRevoked: 'PermissionsRevoked',
  AgentActivated: 'AgentActivated',
  AgentDecommissioned: 'AgentDecommissioned',
  AgentScaled: 'AgentScaled',
  AgentDecommissioningStarted: 'AgentDecommissioningStarted',
} as const;

/** How many instances an agent should run (API.md "Scaling"); absent on agents registered before it existed. */
export interface AgentScaling {
  strategy: 'FIXED' | 'WORKLOAD_BASED' | 'PERFORMANCE_BASED' | 'AUTO';
  min: number;
  max: number;
  targetPendingPerInstance?: number;
  targetCpuPercent?: number;
}

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
    scaling?: AgentScaling;
  }
>;
/** Lists only the permissions the agent did not hold before, so revoking them undoes exactly this grant. */
export type PermissionsGranted = DomainEvent<'PermissionsGranted', { agentId: string; permissions: string[] }>;
/** Lists only the permissions the agent actually held. */
export type PermissionsRevoked = DomainEvent<'PermissionsRevoked', { agentId: string; permissions: string[] }>;
export type AgentActivated = DomainEvent<'AgentActivated', { agentId: string }>;
export type AgentDecommissioned = DomainEvent<'AgentDecommissioned', { agentId: string; reason: string | null }>;
/** The scaling policy's new target; `cappedByQuota`: the tenant quota held it below what the policy asked. */
export type AgentScaled = DomainEvent<
  'AgentScaled',
  {
    agentId: string;
    from: number;
    to: number;
    reason: string;
    cappedByQuota?: boolean;
    uncapped?: number;
    /** The quota reservation holding the instances beyond the provisioned ones (null: none any more). */
    reservationId?: string | null;
  }
>;
/** An `agent-decommissioning` saga began: the agent takes no new work from here on. */
export type AgentDecommissioningStarted = DomainEvent<'AgentDecommissioningStarted', { agentId: string; sagaId: string; reason: string }>;

export type AgentEvent =
  | AgentRegistered
  | PermissionsGranted
  | PermissionsRevoked
  | AgentActivated
  | AgentDecommissioned
  | AgentScaled
  | AgentDecommissioningStarted;
