import { DomainCommand } from '../decider';
import { Resources } from '../resources';

export const AgentCommandType = {
  RegisterAgent: 'RegisterAgent',
  GrantPermissions: 'GrantPermissions',
  RevokePermissions: 'RevokePermissions',
  ActivateAgent: 'ActivateAgent',
  DecommissionAgent: 'DecommissionAgent',
} as const;

export type RegisterAgent = DomainCommand<
  'RegisterAgent',
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
/** `allowedPermissions` is the tenant's list, loaded by the handler: the decider reads no other stream. */
export type GrantPermissions = DomainCommand<
  'GrantPermissions',
  { permissions: string[]; allowedPermissions: string[] }
>;
export type RevokePermissions = DomainCommand<'RevokePermissions', { permissions: string[] }>;
export type ActivateAgent = DomainCommand<'ActivateAgent', Record<string, never>>;
export type DecommissionAgent = DomainCommand<'DecommissionAgent', { reason?: string }>;

export type AgentCommand = RegisterAgent | GrantPermissions | RevokePermissions | ActivateAgent | DecommissionAgent;
