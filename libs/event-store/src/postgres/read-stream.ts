import { ReadStreamOptions, ReadStreamResult } from '../event-store.types';
import { EVENT_COLUMNS, EventRowShape, toRecordedEvent } from './event-row';
import { Queryable } from './queryable';

export const MAX_READ_LIMIT = 10_000;

/** Reads one stream forward or backward from a version (inclusive), with a limit. */
export async function readStream(db: Queryable, streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
  const limit = Math.min(Math.max(options.limit ?? 1000, 1), MAX_READ_LIMIT);
  const backward = options.direction === 'backward';
  const from = options.fromVersion ?? (backward ? Number.MAX_SAFE_INTEGER : 0);
  const tenantFilter = options.tenantId === undefined ? '' : 'and tenant_id = $4';
  const values: unknown[] = [streamId, from, limit];
  if (options.tenantId !== undefined) values.push(options.tenantId);
  const { rows } = await db.query<EventRowShape & { stream_version: number | null }>({
    name: `saga_read_stream_${backward ? 'b' : 'f'}${tenantFilter ? '_t' : ''}`,
    text: `select ${EVENT_COLUMNS},
                  (select max(version) from events where stream_id = $1 ${tenantFilter}) as stream_version
             from events
            where stream_id = $1 and version ${backward ? '<=' : '>='} $2 ${tenantFilter}
            order by version ${backward ? 'desc' : 'asc'}
            limit $3`,
    values,
  });
  let version = rows[0]?.stream_version ?? -1;
  if (rows.length === 0) version = await streamVersion(db, streamId, options.tenantId);
  return { streamId, version, events: rows.map(toRecordedEvent) };
}

/** Version of the stream's last event, -1 when it has none (or belongs to another tenant). */
export async function streamVersion(db: Queryable, streamId: string, tenantId?: string): Promise<number> {
  const { rows } = await db.query(
    tenantId === undefined
      ? { name: 'saga_stream_version', text: 'select max(version) as v from events where stream_id = $1', values: [streamId] }
      : {
          name: 'saga_stream_version_t',
          text: 'select max(version) as v from events where stream_id = $1 and tenant_id = $2',
          values: [streamId, tenantId],
        },
  );
  return rows[0]?.v ?? -1;
}
