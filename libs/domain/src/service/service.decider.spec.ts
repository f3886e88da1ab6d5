import { fold } from '../decider';
import { DeciderSpecification } from '../testing/decider-specification';
import { ChangeServiceStatus, RegisterService } from './service.commands';
import { serviceDecider, serviceStreamId } from './service.decider';
import { ServiceDeregistered, ServiceRegistered, ServiceStatus } from './service.events';

const spec = DeciderSpecification.for(serviceDecider);

const register: RegisterService = {
  type: 'RegisterService',
  data: { agentId: 'a1', tenantId: 'acme', name: 'crawler', capabilities: ['crawl'], nameTakenByLiveAgent: false },
};
const registered: ServiceRegistered = {
  type: 'ServiceRegistered',
  data: { agentId: 'a1', tenantId: 'acme', name: 'crawler', capabilities: ['crawl'], status: 'HEALTHY' },
};
const deregistered: ServiceDeregistered = { type: 'ServiceDeregistered', data: { agentId: 'a1' } };
const changeStatus = (status: ServiceStatus): ChangeServiceStatus => ({ type: 'ChangeServiceStatus', data: { status } });
const deregister = { type: 'DeregisterService' as const, data: {} };

describe('service decider', () => {
  it('names the stream after the agent', () => {
    expect(serviceStreamId('a1')).toBe('service-a1');
  });

  it('folds registration and health', () => {
    const state = fold(serviceDecider, [
      registered,
      { type: 'ServiceStatusChanged', data: { agentId: 'a1', status: 'DEGRADED' } },
      deregistered,
    ]);
    expect(state).toEqual({ registration: 'DEREGISTERED', ...registered.data, status: 'DEGRADED' });
  });

  describe('RegisterService', () => {
    it('registers the service as HEALTHY by default', () => {
      spec.given([]).when(register).then([registered]);
    });

    it('registers with the given status', () => {
      spec
        .given([])
        .when({ ...register, data: { ...register.data, status: 'DEGRADED' } })
        .then([{ ...registered, data: { ...registered.data, status: 'DEGRADED' } }]);
    });

    it('refuses a name a live agent of the tenant already has', () => {
      spec
        .given([])
        .when({ ...register, data: { ...register.data, nameTakenByLiveAgent: true } })
        .thenThrows('AGENT_NAME_TAKEN', { tenantId: 'acme', name: 'crawler' });
    });

    it('writes nothing on a retry, even if the handler counted this agent as the name holder', () => {
      spec
        .given([registered])
        .when({ ...register, data: { ...register.data, nameTakenByLiveAgent: true } })
        .thenNothing();
    });

    it('refuses registering the agent again under another name', () => {
      spec
        .given([registered])
        .when({ ...register, data: { ...register.data, name: 'other' } })
        .thenThrows('SERVICE_EXISTS', { agentId: 'a1', name: 'crawler' });
    });

    it('refuses registering a deregistered service again', () => {
      spec.given([registered, deregistered]).when(register).thenThrows('SERVICE_DEREGISTERED');
    });

    it('refuses an unknown status', () => {
      spec
        .given([])
        .when({ ...register, data: { ...register.data, status: 'SLEEPY' as ServiceStatus } })
        .thenThrows('INVALID_SERVICE_STATUS', { status: 'SLEEPY' });
    });
  });

  describe('ChangeServiceStatus', () => {
    it('changes the status', () => {
      for (const status of ['DEGRADED', 'UNHEALTHY', 'OFFLINE'] as const) {
        spec
          .given([registered])
          .when(changeStatus(status))
          .then([{ type: 'ServiceStatusChanged', data: { agentId: 'a1', status, from: 'HEALTHY', to: status, reason: 'status reported' } }]);
      }
    });

    it('writes nothing when the status is unchanged', () => {
      spec.given([registered]).when(changeStatus('HEALTHY')).thenNothing();
    });

    it('refuses an unknown status', () => {
      spec.given([registered]).when(changeStatus('BROKEN' as ServiceStatus)).thenThrows('INVALID_SERVICE_STATUS');
    });

    it('refuses an unknown or deregistered service', () => {
      spec.given([]).when(changeStatus('OFFLINE')).thenThrows('SERVICE_NOT_FOUND');
      spec.given([registered, deregistered]).when(changeStatus('OFFLINE')).thenThrows('SERVICE_DEREGISTERED');
    });
  });

  describe('DeregisterService', () => {
    it('deregisters the service', () => {
      spec.given([registered]).when(deregister).then([deregistered]);
    });

    it('writes nothing when already deregistered or never registered', () => {
      spec.given([registered, deregistered]).when(deregister).thenNothing();
      spec.given([]).when(deregister).thenNothing();
    });
  });
});
