import { SetMetadata } from '@nestjs/common';

export type Role = 'client' | 'operator' | 'admin';
export const ROLE_RANK: Record<Role, number> = { client: 0, operator: 1, admin: 2 };

export interface Principal {
  keyId: string;
  role: Role;
  /** The key's tenant; undefined for the admin key (sees every tenant). */
  tenantId?: string;
}

export const ROLES_KEY = 'saga:min-role';
/** The lowest role allowed on a route (default: client). */
export const MinRole = (role: Role) => SetMetadata(ROLES_KEY, role);

export const PUBLIC_KEY = 'saga:public';
/** Routes without authentication (health, readiness, metrics, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
