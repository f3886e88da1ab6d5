import { fold } from '../decider';
import { DeciderSpecification } from '../testing/decider-specification';
import { GrantPermissions, RegisterAgent } from './agent.commands';
import { agentDecider, agentStreamId } from './agent.decider';
import { AgentActivated, AgentDecommissioned, AgentRegistered, PermissionsGranted } from './agent.events';

const spec = DeciderSpecification.for(agentDecider);

const registration = {
  agentId: 'a1',
  tenantId: 'acme',
  name: 'crawler',
  type: 'worker',
  capabilities: ['crawl'],
  resources: { cpuMillis: 500, memoryMb: 256 },
  sagaId: 's1',
};
const register: RegisterAgent = { type: 'RegisterAgent', data: registration };
const registered: AgentRegistered = { type: 'AgentRegistered', data: registration };
const grant = (permissions: string[], allowedPermissions = ['read', 'write', 'admin']): GrantPermissions => ({
  type: 'GrantPermissions',
  data: { permissions, allowedPermissions },
});
const granted = (permissions: string[]): PermissionsGranted => ({
  type: 'PermissionsGranted',
  data: { agentId: 'a1', permissions },
});
const activated: AgentActivated = { type: 'AgentActivated', data: { agentId: 'a1' } };
const decommissioned: AgentDecommissioned = { type: 'AgentDecommissioned', data: { agentId: 'a1', reason: 'compensation' } };

describe('agent decider', () => {
  it('names the stream after the agent', () => {
    expect(agentStreamId('a1')).toBe('agent-a1');
  });

  it('folds status and permissions', () => {
    const state = fold(agentDecider, [
      registered,
      granted(['read', 'write']),
      { type: 'PermissionsRevoked', data: { agentId: 'a1', permissions: ['read'] } },
      activated,
    ]);
    expect(state).toEqual({ status: 'ACTIVE', ...registration, permissions: ['write'], desiredInstances: 1 });
  });

  describe('RegisterAgent', () => {
    it('registers the agent', () => {
      spec.given([]).when(register).then([registered]);
    });

    it('writes nothing when the same saga registers again (its retry)', () => {
      spec.given([registered]).when(register).thenNothing();
    });

    it('refuses an agent id registered by another saga', () => {
      spec
        .given([registered])
        .when({ ...register, data: { ...registration, sagaId: 's2' } })
        .thenThrows('AGENT_EXISTS', { agentId: 'a1' });
    });
  });

  describe('GrantPermissions', () => {
    it('grants the permissions the agent does not hold yet', () => {
      spec.given([registered]).when(grant(['read', 'write', 'read'])).then([granted(['read', 'write'])]);
      spec.given([registered, granted(['read'])]).when(grant(['read', 'write'])).then([granted(['write'])]);
    });

    it('writes nothing when every permission is already held', () => {
      spec.given([registered, granted(['read'])]).when(grant(['read'])).thenNothing();
      spec.given([registered]).when(grant([])).thenNothing();
    });

    it('refuses permissions the tenant does not allow, naming them', () => {
      spec
        .given([registered])
        .when(grant(['read', 'root', 'sudo', 'root'], ['read']))
        .thenThrows('PERMISSION_NOT_ALLOWED', { permissions: ['root', 'sudo'] });
    });

    it('refuses an unknown or decommissioned agent', () => {
      spec.given([]).when(grant(['read'])).thenThrows('AGENT_NOT_FOUND');
      spec.given([registered, decommissioned]).when(grant(['read'])).thenThrows('AGENT_DECOMMISSIONED');
    });
  });

  describe('RevokePermissions', () => {
    const revoke = (permissions: string[]) => ({ type: 'RevokePermissions' as const, data: { permissions } });

    it('revokes the permissions the agent holds', () => {
      spec
        .given([registered, granted(['read', 'write'])])
        .when(revoke(['write', 'admin']))
        .then([{ type: 'PermissionsRevoked', data: { agentId: 'a1', permissions: ['write'] } }]);
    });

    it('still revokes on a decommissioned agent, so compensation can finish', () => {
      spec
        .given([registered, granted(['read']), decommissioned])
        .when(revoke(['read']))
        .then([{ type: 'PermissionsRevoked', data: { agentId: 'a1', permissions: ['read'] } }]);
    });

    it('writes nothing when no permission is held', () => {
      spec.given([registered]).when(revoke(['read'])).thenNothing();
    });

    it('refuses an unknown agent', () => {
      spec.given([]).when(revoke(['read'])).thenThrows('AGENT_NOT_FOUND');
    });
  });

  describe('ActivateAgent', () => {
    const activate = { type: 'ActivateAgent' as const, data: {} };

    it('activates a provisioning agent', () => {
      spec.given([registered, granted(['read'])]).when(activate).then([activated]);
    });

    it('writes nothing when already active', () => {
      spec.given([registered, activated]).when(activate).thenNothing();
    });

    it('refuses an unknown agent', () => {
      spec.given([]).when(activate).thenThrows('AGENT_NOT_FOUND');
    });

    it('refuses a decommissioned agent', () => {
      spec.given([registered, decommissioned]).when(activate).thenThrows('AGENT_DECOMMISSIONED', { agentId: 'a1' });
    });
  });

  describe('DecommissionAgent', () => {
    it('decommissions a provisioning or active agent, with the reason', () => {
      spec
        .given([registered])
        .when({ type: 'DecommissionAgent', data: { reason: 'compensation' } })
        .then([decommissioned]);
      spec
        .given([registered, activated])
        .when({ type: 'DecommissionAgent', data: {} })
        .then([{ type: 'AgentDecommissioned', data: { agentId: 'a1', reason: null } }]);
    });

    it('writes nothing when already decommissioned', () => {
      spec.given([registered, decommissioned]).when({ type: 'DecommissionAgent', data: {} }).thenNothing();
    });

    it('refuses an unknown agent', () => {
      spec.given([]).when({ type: 'DecommissionAgent', data: {} }).thenThrows('AGENT_NOT_FOUND');
    });
  });
});
