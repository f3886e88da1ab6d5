import { ReadStreamOptions, ReadStreamResult, RecordedEvent } from '../event-store.types';
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

/**
 * Reads several whole streams in one round trip (for short streams: a saga's, a task's), in
 * version order. Streams without events are absent from the map.
 */
export async function readStreams(db: Queryable, streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
  const out = new Map<string, RecordedEvent[]>();
  if (streamIds.length === 0) return out;
  const { rows } = await db.query<EventRowShape>({
    name: 'saga_read_streams',
    text: `select ${EVENT_COLUMNS} from events where stream_id = any($1::text[]) order by stream_id, version`,
    values: [[...new Set(streamIds)]],
  });
  for (const row of rows) {
    const list = out.get(row.stream_id);
    if (list) list.push(toRecordedEvent(row));
    else out.set(row.stream_id, [toRecordedEvent(row)]);
  }
  return out;
}
