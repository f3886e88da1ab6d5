import { ReadAllOptions, ReadAllResult } from '../event-store.types';
import { EVENT_COLUMNS, EventRowShape, toRecordedEvent } from './event-row';
import { Queryable } from './queryable';

export const MAX_READ_ALL_LIMIT = 10_000;

/**
 * Reads the global log after a position, in position order, gap-safe: only positions below the
 * read horizon — those of transactions older than every transaction still running in this
 * database — are returned, so no event can later commit below a position already handed out (see
 * migrations/001_event_store.sql for the proof). Optional category and tenant filters.
 */
export async function readAll(db: Queryable, options: ReadAllOptions = {}): Promise<ReadAllResult> {
  const after = options.after ?? 0;
  const limit = Math.min(Math.max(options.limit ?? 1000, 1), MAX_READ_ALL_LIMIT);
  const { rows } = await db.query<EventRowShape>({
    name: 'saga_read_all',
    text: `select ${EVENT_COLUMNS} from read_all_events($1, $2, $3, $4)`,
    values: [after, limit, options.category ?? null, options.tenantId ?? null],
  });
  const events = rows.map(toRecordedEvent);
  return { events, lastPosition: events.length ? events[events.length - 1].globalPosition : after };
}

/** Highest position currently stored and safely readable (0 for an empty store): the log's head. */
export async function readHeadPosition(db: Queryable): Promise<number> {
  const { rows } = await db.query({
    name: 'saga_head_position',
    text: 'select coalesce(max(global_position), 0) as head from events where global_position < events_safe_position()',
  });
  return rows[0].head;
}
