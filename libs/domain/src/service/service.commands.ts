import { DomainCommand } from '../decider';
import { ServiceStatus } from './service.events';

export type RegisterService = DomainCommand<
  'RegisterService',
  {
    agentId: string;
    tenantId: string;
    name: string;
    capabilities: string[];
    /** Defaults to HEALTHY. */
    status?: ServiceStatus;
    /**
     * Whether another live (not deregistered) service of this tenant already has this name. Computed
     * by the handler from the database, excluding this agent, so the decider stays pure.
     */
    nameTakenByLiveAgent: boolean;
  }
>;
/** `reason`: why it changed (e.g. "3 heartbeat intervals of silence"), kept in the event. */
export type ChangeServiceStatus = DomainCommand<'ChangeServiceStatus', { status: ServiceStatus; reason?: string }>;
export type DeregisterService = DomainCommand<'DeregisterService', Record<string, never>>;

export type ServiceCommand = RegisterService | ChangeServiceStatus | DeregisterService;
