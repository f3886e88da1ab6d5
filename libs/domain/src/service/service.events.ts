import { DomainEvent } from '../decider';

export const SERVICE_STATUSES = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

export const ServiceEventType = {
  ServiceRegistered: 'ServiceRegistered',
  ServiceStatusChanged: 'ServiceStatusChanged',
  ServiceDeregistered: 'ServiceDeregistered',
} as const;

export type ServiceRegistered = DomainEvent<
  'ServiceRegistered',
  { agentId: string; tenantId: string; name: string; capabilities: string[]; status: ServiceStatus }
>;
/** `status` is the new one (= `to`); `from`, `to` and `reason` were added with agent health monitoring. */
export type ServiceStatusChanged = DomainEvent<
  'ServiceStatusChanged',
  { agentId: string; status: ServiceStatus; from?: ServiceStatus; to?: ServiceStatus; reason?: string }
>;
export type ServiceDeregistered = DomainEvent<'ServiceDeregistered', { agentId: string }>;

export type ServiceEvent = ServiceRegistered | ServiceStatusChanged | ServiceDeregistered;
