import { Decider, DomainError } from '../decider';
import { ServiceCommand } from './service.commands';
import { SERVICE_STATUSES, ServiceEvent, ServiceStatus } from './service.events';

export interface RegisteredService {
  registration: 'REGISTERED' | 'DEREGISTERED';
  agentId: string;
  tenantId: string;
  name: string;
  capabilities: string[];
  status: ServiceStatus;
}

/** `status` is the service's health, so whether it is registered at all lives in `registration`. */
export type ServiceState = { registration: 'NONE' } | RegisteredService;

export const serviceStreamId = (agentId: string): string => `service-${agentId}`;

function validStatus(status: string): ServiceStatus {
  if (!(SERVICE_STATUSES as readonly string[]).includes(status)) {
    throw new DomainError('INVALID_SERVICE_STATUS', `unknown service status ${status}`, {
      status,
      allowed: [...SERVICE_STATUSES],
    });
  }
  return status as ServiceStatus;
}

export const serviceDecider: Decider<ServiceState, ServiceCommand, ServiceEvent> = {
  initialState: () => ({ registration: 'NONE' }),

  evolve(state, event) {
    if (event.type === 'ServiceRegistered') return { registration: 'REGISTERED', ...event.data };
    if (state.registration === 'NONE') return state;
    switch (event.type) {
      case 'ServiceStatusChanged':
        return { ...state, status: event.data.status };
      case 'ServiceDeregistered':
        return { ...state, registration: 'DEREGISTERED' };
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'RegisterService': {
        const { agentId, tenantId, name, capabilities, nameTakenByLiveAgent } = command.data;
        // Checked before the name: a retry after a crash finds its own registration, which must not
        // count as a name collision.
        if (state.registration === 'REGISTERED') {
          if (state.name === name && state.tenantId === tenantId) return [];
          throw new DomainError('SERVICE_EXISTS', `agent ${agentId} is already registered as ${state.name}`, {
            agentId,
            name: state.name,
          });
        }
        if (state.registration === 'DEREGISTERED') {
          throw new DomainError('SERVICE_DEREGISTERED', `service of agent ${agentId} was deregistered`, { agentId });
        }
        const status = validStatus(command.data.status ?? 'HEALTHY');
        if (nameTakenByLiveAgent) {
          throw new DomainError('AGENT_NAME_TAKEN', `tenant ${tenantId} already has a live agent named ${name}`, {
            tenantId,
            name,
          });
        }
        return [
          { type: 'ServiceRegistered', data: { agentId, tenantId, name, capabilities: [...capabilities], status } },
        ];
      }
      case 'ChangeServiceStatus': {
        if (state.registration === 'NONE') throw new DomainError('SERVICE_NOT_FOUND', 'service not found');
        if (state.registration === 'DEREGISTERED') {
          throw new DomainError('SERVICE_DEREGISTERED', `service of agent ${state.agentId} was deregistered`, {
            agentId: state.agentId,
          });
        }
        const status = validStatus(command.data.status);
        if (status === state.status) return [];
        return [
          {
            type: 'ServiceStatusChanged',
            data: { agentId: state.agentId, status, from: state.status, to: status, reason: command.data.reason ?? 'status reported' },
          },
        ];
      }
      case 'DeregisterService':
        // Nothing registered, or already deregistered: a compensation has nothing left to undo.
        if (state.registration !== 'REGISTERED') return [];
        return [{ type: 'ServiceDeregistered', data: { agentId: state.agentId } }];
    }
  },
};
