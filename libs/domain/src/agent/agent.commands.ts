import { DomainCommand } from '../decider';
import { AgentRegistered } from './agent.events';

export type RegisterAgent = DomainCommand<'RegisterAgent', AgentRegistered['data']>;
/** `allowedPermissions` is the tenant's list, loaded by the handler: the decider reads no other stream. */
export type GrantPermissions = DomainCommand<
  'GrantPermissions',
  { permissions: string[]; allowedPermissions: string[] }
>;
export type RevokePermissions = DomainCommand<'RevokePermissions', { permissions: string[] }>;
export type ActivateAgent = DomainCommand<'ActivateAgent', Record<string, never>>;
export type DecommissionAgent = DomainCommand<'DecommissionAgent', { reason?: string }>;

export type ScaleAgent = DomainCommand<
  'ScaleAgent',
  { desired: number; reason: string; cappedByQuota?: boolean; uncapped?: number; reservationId?: string | null }
>;
export type StartDecommissioning = DomainCommand<'StartDecommissioning', { sagaId: string; reason: string }>;

export type AgentCommand =
  | RegisterAgent
  | GrantPermissions
  | RevokePermissions
  | ActivateAgent
  | DecommissionAgent
  | ScaleAgent
  | StartDecommissioning;
