import { SetMetadata } from '@nestjs/common';

/** The ranked roles of people and their tools: each may do what the ones below it may. */
export type RankedRole = 'client' | 'operator' | 'admin';
/** `agent` stands apart: a key bound to one agent, for the `/v1/agent/...` routes only (and only it may call them). */
export type Role = RankedRole | 'agent';
export const ROLE_RANK: Record<RankedRole, number> = { client: 0, operator: 1, admin: 2 };

export interface Principal {
  keyId: string;
  role: Role;
  /** The key's tenant; undefined for the admin key (sees every tenant). */
  tenantId?: string;
  /** The agent an `agent` key acts as. */
  agentId?: string;
}

export const ROLES_KEY = 'saga:min-role';
/** The lowest role allowed on a route (default: client). */
export const MinRole = (role: RankedRole) => SetMetadata(ROLES_KEY, role);
/** A route of the agent work protocol: agent keys only (and agent keys may call nothing else). */
export const AgentOnly = () => SetMetadata(ROLES_KEY, 'agent' satisfies Role);

export const PUBLIC_KEY = 'saga:public';
/** Routes without authentication (health, readiness, metrics, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
