import { DomainCommand } from '../decider';
import { Resources } from '../resources';

export const TenantCommandType = {
  CreateTenant: 'CreateTenant',
  UpdateTenantQuota: 'UpdateTenantQuota',
} as const;

export type CreateTenant = DomainCommand<
  'CreateTenant',
  { tenantId: string; name: string; quota: Resources; allowedPermissions: string[] }
>;
export type UpdateTenantQuota = DomainCommand<'UpdateTenantQuota', { quota: Resources }>;

export type TenantCommand = CreateTenant | UpdateTenantQuota;
