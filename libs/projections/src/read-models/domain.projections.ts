import { RecordedEvent } from '@app/event-store';
import { AgentEventType, QuotaEventType, ServiceEventType, TaskEventType, TenantEventType } from '@app/domain';
import { defineRowProjection, Row } from '../row-projection';

type Data = Record<string, any>;
const at = (e: RecordedEvent) => e.recordedAt.toISOString();
const data = (e: RecordedEvent) => e.data as Data;
const tenantOf = (e: RecordedEvent) => e.metadata.tenantId;
const union = (a: unknown, b: string[]) => [...new Set([...((a as string[]) ?? []), ...b])];

/** `agents`: one row per agent, with its status, permissions and the saga that provisioned it. */
export const agentsProjection = defineRowProjection({
  name: 'agents',
  table: 'agents',
  key: ['agent_id'],
  eventTypes: Object.values(AgentEventType),
  keys: (e) => [{ agent_id: data(e).agentId }],
  evolve(row, e): Row | undefined {
    const d = data(e);
    switch (e.type) {
      case AgentEventType.AgentRegistered:
        return {
          tenant_id: d.tenantId ?? tenantOf(e),
          name: d.name,
          type: d.type,
          status: 'PROVISIONING',
          capabilities: d.capabilities ?? [],
          permissions: [],
          resources: d.resources ?? {},
          saga_id: d.sagaId ?? null,
          created_at: at(e),
          updated_at: at(e),
        };
      case AgentEventType.PermissionsGranted:
        return row && { ...row, permissions: union(row.permissions, d.permissions), updated_at: at(e) };
      case AgentEventType.PermissionsRevoked:
        return (
          row && {
            ...row,
            permissions: ((row.permissions as string[]) ?? []).filter((p) => !(d.permissions as string[]).includes(p)),
            updated_at: at(e),
          }
        );
      case AgentEventType.AgentActivated:
        return row && { ...row, status: 'ACTIVE', updated_at: at(e) };
      case AgentEventType.AgentDecommissioned:
        return row && { ...row, status: 'DECOMMISSIONED', updated_at: at(e) };
    }
    return undefined;
  },
});

/** `tasks`: one row per task (workflow tasks and initial tasks of provisioning). */
export const tasksProjection = defineRowProjection({
  name: 'tasks',
  table: 'tasks',
  key: ['task_id'],
  eventTypes: Object.values(TaskEventType),
  keys: (e) => [{ task_id: data(e).taskId }],
  evolve(row, e): Row | undefined {
    const d = data(e);
    switch (e.type) {
      case TaskEventType.TaskScheduled:
        return {
          tenant_id: d.tenantId ?? tenantOf(e),
          saga_id: d.sagaId ?? null,
          name: d.name,
          handler: d.handler,
          status: 'SCHEDULED',
          config: d.config ?? {},
          output: null,
          error: null,
          attempts: 0,
          created_at: at(e),
          updated_at: at(e),
        };
      case TaskEventType.TaskStarted:
        return row && { ...row, status: 'RUNNING', attempts: Math.max(Number(row.attempts ?? 0), d.attempt ?? 1), updated_at: at(e) };
      case TaskEventType.TaskCompleted:
        return row && { ...row, status: 'COMPLETED', output: d.output ?? null, error: null, updated_at: at(e) };
      case TaskEventType.TaskFailed:
        return row && { ...row, status: 'FAILED', error: d.error?.message ?? String(d.error), updated_at: at(e) };
      case TaskEventType.TaskCompensated:
        return row && { ...row, status: 'COMPENSATED', updated_at: at(e) };
      case TaskEventType.TaskCancelled:
        return row && { ...row, status: 'CANCELLED', updated_at: at(e) };
    }
    return undefined;
  },
});

/** `services`: the service registry, one entry per agent. */
export const servicesProjection = defineRowProjection({
  name: 'services',
  table: 'services',
  key: ['agent_id'],
  eventTypes: Object.values(ServiceEventType),
  keys: (e) => [{ agent_id: data(e).agentId }],
  evolve(row, e): Row | undefined {
    const d = data(e);
    switch (e.type) {
      case ServiceEventType.ServiceRegistered:
        return {
          tenant_id: d.tenantId ?? tenantOf(e),
          name: d.name,
          capabilities: d.capabilities ?? [],
          status: d.status ?? 'HEALTHY',
          registered_at: at(e),
          deregistered_at: null,
        };
      case ServiceEventType.ServiceStatusChanged:
        return row && { ...row, status: d.status };
      case ServiceEventType.ServiceDeregistered:
        return row && { ...row, status: 'OFFLINE', deregistered_at: at(e) };
    }
    return undefined;
  },
});

/** `tenant_quotas`: limits and current usage per tenant. */
export const tenantQuotasProjection = defineRowProjection({
  name: 'tenant_quotas',
  table: 'tenant_quotas',
  key: ['tenant_id'],
  eventTypes: [
    TenantEventType.TenantCreated,
    TenantEventType.TenantQuotaUpdated,
    QuotaEventType.QuotaSet,
    QuotaEventType.ResourcesReserved,
    QuotaEventType.ResourcesReleased,
  ],
  keys: (e) => [{ tenant_id: data(e).tenantId ?? tenantOf(e) }],
  evolve(row, e): Row | undefined {
    const d = data(e);
    const base: Row = row ?? {
      cpu_millis_limit: 0,
      memory_mb_limit: 0,
      cpu_millis_used: 0,
      memory_mb_used: 0,
      reservations: {},
    };
    switch (e.type) {
      case TenantEventType.TenantCreated:
      case TenantEventType.TenantQuotaUpdated:
        return { ...base, cpu_millis_limit: d.quota?.cpuMillis ?? 0, memory_mb_limit: d.quota?.memoryMb ?? 0, updated_at: at(e) };
      case QuotaEventType.QuotaSet:
        return { ...base, cpu_millis_limit: d.cpuMillis, memory_mb_limit: d.memoryMb, updated_at: at(e) };
      case QuotaEventType.ResourcesReserved:
        return {
          ...base,
          cpu_millis_used: Number(base.cpu_millis_used) + d.cpuMillis,
          memory_mb_used: Number(base.memory_mb_used) + d.memoryMb,
          reservations: { ...(base.reservations as Data), [d.reservationId]: { cpuMillis: d.cpuMillis, memoryMb: d.memoryMb } },
          updated_at: at(e),
        };
      case QuotaEventType.ResourcesReleased: {
        const reservations = { ...(base.reservations as Data) };
        delete reservations[d.reservationId];
        return {
          ...base,
          cpu_millis_used: Math.max(0, Number(base.cpu_millis_used) - d.cpuMillis),
          memory_mb_used: Math.max(0, Number(base.memory_mb_used) - d.memoryMb),
          reservations,
          updated_at: at(e),
        };
      }
    }
    return undefined;
  },
});
