import { StreamHead } from '../event-store.types';
import { Queryable } from './queryable';

/**
 * A stream's last version and whether it holds events of a tenant other than `tenantId`, in one
 * statement: two index probes, however long the stream.
 */
export async function readStreamHead(db: Queryable, streamId: string, tenantId: string | undefined): Promise<StreamHead> {
  const { rows } = await db.query<{ version: number | null; other_tenant: boolean }>({
    name: 'saga_stream_head',
    text: `select (select max(version) from events where stream_id = $1) as version,
                  exists (select 1 from events where stream_id = $1 and tenant_id <> $2) as other_tenant`,
    values: [streamId, tenantId ?? null],
  });
  return { streamId, version: rows[0].version ?? -1, otherTenant: rows[0].other_tenant };
}
