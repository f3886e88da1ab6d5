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
  // One round trip whether or not the range has events: the stream's version comes from the
  // outer row, the events (if any) from the lateral join.
  const cols = EVENT_COLUMNS.split(',')
    .map((c) => `e.${c.trim()}`)
    .join(', ');
  const { rows } = await db.query<EventRowShape & { stream_version: number | null }>({
    name: `saga_read_stream_${backward ? 'b' : 'f'}${tenantFilter ? '_t' : ''}`,
    text: `select v.stream_version, ${cols}
             from (select max(version) as stream_version from events where stream_id = $1 ${tenantFilter}) v
             left join lateral (
               select ${EVENT_COLUMNS} from events
                where stream_id = $1 and version ${backward ? '<=' : '>='} $2 ${tenantFilter}
                order by version ${backward ? 'desc' : 'asc'}
                limit $3) e on true`,
    values,
  });
  const version = rows[0]?.stream_version ?? -1;
  const events = rows.filter((r) => r.event_id !== null).map(toRecordedEvent);
  return { streamId, version, events };
}
