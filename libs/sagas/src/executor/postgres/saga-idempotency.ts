import { PoolClient } from 'pg';

export interface IdempotencyRecord {
  sagaId: string;
  requestHash: string;
}

/**
 * Records (tenant, key) → saga in the start transaction. Returns the existing record when the key
 * was already used (the unique key decides under concurrency), or undefined when this call won.
 */
export async function claimIdempotencyKey(
  tx: PoolClient,
  tenantId: string,
  key: string,
  sagaId: string,
  requestHash: string,
): Promise<IdempotencyRecord | undefined> {
  const inserted = await tx.query(
    `insert into saga_idempotency (tenant_id, idempotency_key, saga_id, request_hash) values ($1, $2, $3, $4)
     on conflict (tenant_id, idempotency_key) do nothing`,
    [tenantId, key, sagaId, requestHash],
  );
  if (inserted.rowCount) return undefined;
  const { rows } = await tx.query<{ saga_id: string; request_hash: string }>(
    'select saga_id, request_hash from saga_idempotency where tenant_id = $1 and idempotency_key = $2',
    [tenantId, key],
  );
  return { sagaId: rows[0].saga_id, requestHash: rows[0].request_hash };
}
