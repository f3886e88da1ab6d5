import { PoolClient } from 'pg';

/**
 * Claims `name` for the agent in the tenant's `service_names` (the unique key decides between
 * concurrent sagas), inside the transaction that commits the service's event. True when the agent
 * holds the name afterwards (claimed now, or already its own); false when another live agent of
 * the tenant holds it.
 */
export async function claimServiceName(tx: PoolClient, tenantId: string, name: string, agentId: string): Promise<boolean> {
  await tx.query(
    `insert into service_names (tenant_id, name, agent_id) values ($1, $2, $3) on conflict (tenant_id, name) do nothing`,
    [tenantId, name, agentId],
  );
  const { rows } = await tx.query<{ agent_id: string }>('select agent_id from service_names where tenant_id = $1 and name = $2', [
    tenantId,
    name,
  ]);
  return rows[0]?.agent_id === agentId;
}

/** Frees the names the agent holds (its service was deregistered). */
export async function releaseServiceNames(tx: PoolClient, tenantId: string, agentId: string): Promise<void> {
  await tx.query('delete from service_names where tenant_id = $1 and agent_id = $2', [tenantId, agentId]);
}
