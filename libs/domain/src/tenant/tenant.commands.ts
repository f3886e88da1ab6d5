import { DomainCommand } from '../decider';
import { TenantCreated } from './tenant.events';
import { Resources } from '../resources';

export type CreateTenant = DomainCommand<'CreateTenant', TenantCreated['data']>;
export type UpdateTenantQuota = DomainCommand<'UpdateTenantQuota', { quota: Resources }>;

export type TenantCommand = CreateTenant | UpdateTenantQuota;
