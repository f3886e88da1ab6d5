import { Decider, DomainError } from '../decider';
import { Resources, assertValidResources } from '../resources';
import { TenantCommand } from './tenant.commands';
import { TenantEvent } from './tenant.events';

export type TenantState =
  | { status: 'NONE' }
  | { status: 'CREATED'; tenantId: string; name: string; quota: Resources; allowedPermissions: string[] };

export const tenantStreamId = (tenantId: string): string => `tenant-${tenantId}`;

export const tenantDecider: Decider<TenantState, TenantCommand, TenantEvent> = {
  initialState: () => ({ status: 'NONE' }),

  evolve(state, event) {
    switch (event.type) {
      case 'TenantCreated':
        return { status: 'CREATED', ...event.data };
      case 'TenantQuotaUpdated':
        return state.status === 'CREATED' ? { ...state, quota: event.data.quota } : state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'CreateTenant': {
        const { tenantId, name, quota, allowedPermissions } = command.data;
        // Tenants are created once by an admin; a second create is a conflict, not a retry.
        if (state.status === 'CREATED') {
          throw new DomainError('TENANT_EXISTS', `tenant ${state.tenantId} already exists`, {
            tenantId: state.tenantId,
          });
        }
        return [
          {
            type: 'TenantCreated',
            data: {
              tenantId,
              name,
              quota: assertValidResources(quota),
              allowedPermissions: [...new Set(allowedPermissions)],
            },
          },
        ];
      }
      case 'UpdateTenantQuota': {
        if (state.status !== 'CREATED') throw new DomainError('TENANT_NOT_FOUND', 'tenant not found');
        const quota = assertValidResources(command.data.quota);
        if (quota.cpuMillis === state.quota.cpuMillis && quota.memoryMb === state.quota.memoryMb) return [];
        return [{ type: 'TenantQuotaUpdated', data: { tenantId: state.tenantId, quota } }];
      }
    }
  },
};
