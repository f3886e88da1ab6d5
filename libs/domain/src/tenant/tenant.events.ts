import { DomainEvent } from '../decider';
import { Resources } from '../resources';

export const TenantEventType = {
  TenantCreated: 'TenantCreated',
  TenantQuotaUpdated: 'TenantQuotaUpdated',
} as const;

export type TenantCreated = DomainEvent<
  'TenantCreated',
  { tenantId: string; name: string; quota: Resources; allowedPermissions: string[] }
>;
export type TenantQuotaUpdated = DomainEvent<'TenantQuotaUpdated', { tenantId: string; quota: Resources }>;

export type TenantEvent = TenantCreated | TenantQuotaUpdated;
