import { Pool, PoolClient } from 'pg';
import type { InstanceLoad, InstanceReportedStatus, ServiceStatus } from '../../agent-work.port';

type Db = Pool | PoolClient;

export interface AgentInstanceRow {
  agent_id: string;
  instance_id: string;
  tenant_id: string;
  reported_status: InstanceReportedStatus;
  status: ServiceStatus;
  load: InstanceLoad | null;
  started_at: Date;
  last_heartbeat_at: Date;
}

/** A heartbeat: the instance is as it says, from now. Returns the row as it was before (if any). */
export async function recordHeartbeat(
  db: Db,
  h: { tenantId: string; agentId: string; instanceId: string; status: InstanceReportedStatus; load?: InstanceLoad },
): Promise<{ before?: ServiceStatus }> {
  const { rows } = await db.query<{ before: ServiceStatus | null }>(
    `with prev as (select status from agent_instances where agent_id = $1 and instance_id = $2)
     insert into agent_instances (agent_id, instance_id, tenant_id, reported_status, status, load, last_heartbeat_at)
     values ($1, $2, $3, $4, $4, $5::jsonb, now())
     on conflict (agent_id, instance_id) do update
        set reported_status = excluded.reported_status, status = excluded.status, load = excluded.load, last_heartbeat_at = now()
     returning (select status from prev) as before`,
    [h.agentId, h.instanceId, h.tenantId, h.status, h.load ? JSON.stringify(h.load) : null],
  );
  return rows[0]?.before ? { before: rows[0].before } : {};
}

export async function findInstance(db: Db, agentId: string, instanceId: string): Promise<AgentInstanceRow | undefined> {
  const { rows } = await db.query<AgentInstanceRow>(`select * from agent_instances where agent_id = $1 and instance_id = $2`, [agentId, instanceId]);
  return rows[0];
}

export async function instancesOf(db: Db, tenantId: string, agentId: string): Promise<AgentInstanceRow[]> {
  const { rows } = await db.query<AgentInstanceRow>(
    `select * from agent_instances where tenant_id = $1 and agent_id = $2 order by instance_id`,
    [tenantId, agentId],
  );
  return rows;
}

/** Every instance (the monitor judges their silence). */
export async function allInstances(db: Db): Promise<AgentInstanceRow[]> {
  const { rows } = await db.query<AgentInstanceRow>(`select * from agent_instances`);
  return rows;
}

export async function setInstanceStatus(db: Db, agentId: string, instanceId: string, status: ServiceStatus): Promise<void> {
  await db.query(`update agent_instances set status = $3 where agent_id = $1 and instance_id = $2`, [agentId, instanceId, status]);
}

/** Instances OFFLINE for long are forgotten (a restarted process comes back with a heartbeat). */
export async function forgetOfflineInstances(db: Db, olderThanMs: number): Promise<void> {
  await db.query(
    `delete from agent_instances where status = 'OFFLINE' and last_heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)`,
    [olderThanMs],
  );
}

/** Decommissioning: the agent's instances are forgotten. */
export async function deleteInstances(db: Db, agentId: string): Promise<void> {
  await db.query(`delete from agent_instances where agent_id = $1`, [agentId]);
}

/** Decommissioning: every key of the agent stops working at once. */
export async function revokeAgentKeys(db: Db, agentId: string): Promise<void> {
  await db.query(`update api_keys set revoked_at = now() where agent_id = $1 and revoked_at is null`, [agentId]);
}
