import { RecordedEvent } from '@app/event-store';
import { AgentEventType, QuotaEventType, ServiceEventType, TaskEventType, TenantEventType } from '@app/domain';
import { defineRowProjection, Row } from '../row-projection';

type Data = Record<string, any>;
const at = (e: RecordedEvent) => e.recordedAt.toISOString();
const data = (e: RecordedEvent) => e.data as Data;
const tenantOf = (e: RecordedEvent) => e.metadata.tenantId;
const union = (a: unknown, b: string[]) => [...new Set([...((a as string[]) ?? []), ...b])];

/**
 * A read model of one row per entity, keyed by `column` = the events' `data[field]`: the `created`
 * event makes the row, each of `updates` patches the row it finds (an unknown entity stays unknown).
 */
function entityProjection(def: {
  table: string;
  key: [column: string, field: string];
  eventTypes: string[];
  created: [type: string, row: (d: Data, e: RecordedEvent) => Row];
  updates: Record<string, (d: Data, e: RecordedEvent, row: Row) => Row>;
}) {
  const [column, field] = def.key;
  const [createdType, created] = def.created;
  const updates = new Map(Object.entries(def.updates));
  return defineRowProjection({
    name: def.table,
    table: def.table,
    key: [column],
    eventTypes: def.eventTypes,
    keys: (e) => [{ [column]: data(e)[field] }],
    evolve(row, e): Row | undefined {
      if (e.type === createdType) return created(data(e), e);
      const update = updates.get(e.type);
      return row && update && { ...row, ...update(data(e), e, row) };
    },
  });
}

/** `agents`: one row per agent, with its status, permissions and the saga that provisioned it. */
export const agentsProjection = entityProjection({
  table: 'agents',
  key: ['agent_id', 'agentId'],
  eventTypes: Object.values(AgentEventType),
  created: [
    AgentEventType.AgentRegistered,
    (d, e) => ({
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
      scaling: d.scaling ?? null,
      desired_instances: d.scaling?.min ?? 1,
      decommissioning_saga_id: null,
    }),
  ],
  updates: {
    [AgentEventType.AgentScaled]: (d, e) => ({ desired_instances: d.to, updated_at: at(e) }),
    [AgentEventType.AgentDecommissioningStarted]: (d, e) => ({ decommissioning_saga_id: d.sagaId, updated_at: at(e) }),
    [AgentEventType.PermissionsGranted]: (d, e, row) => ({ permissions: union(row.permissions, d.permissions), updated_at: at(e) }),
    [AgentEventType.PermissionsRevoked]: (d, e, row) => ({
      permissions: ((row.permissions as string[]) ?? []).filter((p) => !(d.permissions as string[]).includes(p)),
      updated_at: at(e),
    }),
    [AgentEventType.AgentActivated]: (_d, e) => ({ status: 'ACTIVE', updated_at: at(e) }),
    [AgentEventType.AgentDecommissioned]: (_d, e) => ({ status: 'DECOMMISSIONED', updated_at: at(e) }),
  },
});

/** `tasks`: one row per task (workflow tasks and initial tasks of provisioning). */
export const tasksProjection = entityProjection({
  table: 'tasks',
  key: ['task_id', 'taskId'],
  eventTypes: Object.values(TaskEventType),
  created: [
    TaskEventType.TaskScheduled,
    (d, e) => ({
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
    }),
  ],
  updates: {
    [TaskEventType.TaskStarted]: (d, e, row) => ({ status: 'RUNNING', attempts: Math.max(Number(row.attempts ?? 0), d.attempt ?? 1), updated_at: at(e) }),
    [TaskEventType.TaskCompleted]: (d, e) => ({ status: 'COMPLETED', output: d.output ?? null, error: null, updated_at: at(e) }),
    [TaskEventType.TaskFailed]: (d, e) => ({ status: 'FAILED', error: d.error?.message ?? String(d.error), updated_at: at(e) }),
    [TaskEventType.TaskCompensated]: (_d, e) => ({ status: 'COMPENSATED', updated_at: at(e) }),
    [TaskEventType.TaskCancelled]: (_d, e) => ({ status: 'CANCELLED', updated_at: at(e) }),
  },
});

/** `services`: the service registry, one entry per agent. */
export const servicesProjection = entityProjection({
  table: 'services',
  key: ['agent_id', 'agentId'],
  eventTypes: Object.values(ServiceEventType),
  created: [
    ServiceEventType.ServiceRegistered,
    (d, e) => ({
      tenant_id: d.tenantId ?? tenantOf(e),
      name: d.name,
      capabilities: d.capabilities ?? [],
      status: d.status ?? 'HEALTHY',
      registered_at: at(e),
      deregistered_at: null,
    }),
  ],
  updates: {
    [ServiceEventType.ServiceStatusChanged]: (d) => ({ status: d.status }),
    [ServiceEventType.ServiceDeregistered]: (_d, e) => ({ status: 'OFFLINE', deregistered_at: at(e) }),
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
