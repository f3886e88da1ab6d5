import { DeciderSpecification } from '../testing/decider-specification';
import { CreateTenant } from './tenant.commands';
import { tenantDecider, tenantStreamId } from './tenant.decider';
import { TenantCreated } from './tenant.events';

const spec = DeciderSpecification.for(tenantDecider);

const create: CreateTenant = {
  type: 'CreateTenant',
  data: {
    tenantId: 'acme',
    name: 'Acme',
    quota: { cpuMillis: 4000, memoryMb: 8192 },
    allowedPermissions: ['read', 'write', 'read'],
  },
};
const created: TenantCreated = {
  type: 'TenantCreated',
  data: { tenantId: 'acme', name: 'Acme', quota: { cpuMillis: 4000, memoryMb: 8192 }, allowedPermissions: ['read', 'write'] },
};

describe('tenant decider', () => {
  it('names the stream after the tenant', () => {
    expect(tenantStreamId('acme')).toBe('tenant-acme');
  });

  describe('CreateTenant', () => {
    it('creates the tenant, without duplicate permissions', () => {
      spec.given([]).when(create).then([created]);
    });

    it('refuses a tenant that already exists', () => {
      spec.given([created]).when(create).thenThrows('TENANT_EXISTS', { tenantId: 'acme' });
    });

    it('refuses a negative or fractional quota', () => {
      spec
        .given([])
        .when({ ...create, data: { ...create.data, quota: { cpuMillis: -1, memoryMb: 1 } } })
        .thenThrows('INVALID_RESOURCES');
      spec
        .given([])
        .when({ ...create, data: { ...create.data, quota: { cpuMillis: 1, memoryMb: 0.5 } } })
        .thenThrows('INVALID_RESOURCES');
    });
  });

  describe('UpdateTenantQuota', () => {
    it('updates the quota', () => {
      spec
        .given([created])
        .when({ type: 'UpdateTenantQuota', data: { quota: { cpuMillis: 1000, memoryMb: 512 } } })
        .then([{ type: 'TenantQuotaUpdated', data: { tenantId: 'acme', quota: { cpuMillis: 1000, memoryMb: 512 } } }]);
    });

    it('writes nothing when the quota is unchanged', () => {
      spec
        .given([created, { type: 'TenantQuotaUpdated', data: { tenantId: 'acme', quota: { cpuMillis: 1, memoryMb: 2 } } }])
        .when({ type: 'UpdateTenantQuota', data: { quota: { cpuMillis: 1, memoryMb: 2 } } })
        .thenNothing();
    });

    it('refuses an unknown tenant', () => {
      spec
        .given([])
        .when({ type: 'UpdateTenantQuota', data: { quota: { cpuMillis: 1, memoryMb: 1 } } })
        .thenThrows('TENANT_NOT_FOUND');
    });

    it('refuses an invalid quota', () => {
      spec
        .given([created])
        .when({ type: 'UpdateTenantQuota', data: { quota: { cpuMillis: Number.NaN, memoryMb: 1 } } })
        .thenThrows('INVALID_RESOURCES');
    });
  });
});
