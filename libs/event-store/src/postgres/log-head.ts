import { Queryable } from './queryable';

// The log's head and counts, all bounded by the safely readable position (see gap-safety.ts): what
// a reader could have read by now, never an event that may still be overtaken by a lower one.

/** Highest position currently stored and safely readable (0 for an empty store): the log's head. */
export async function readHeadPosition(db: Queryable): Promise<number> {
  const { rows } = await db.query({
    name: 'saga_head_position',
    text: 'select coalesce(max(global_position), 0) as head from events where global_position < events_safe_position()',
  });
  return rows[0].head;
}

/**
 * SQL expression: the number of events after `position` (an SQL expression of the enclosing
 * query) up to the safely readable head, i.e. what a reader at `position` has still to read.
 */
export function unreadAfterSql(position: string): string {
  return `(select count(*) from events e where e.global_position > ${position} and e.global_position < events_safe_position())`;
}

/** The number of events after `after` that are safely readable now. */
export async function countEvents(db: Queryable, after: number): Promise<number> {
  const { rows } = await db.query({ name: 'saga_count_events', text: `select ${unreadAfterSql('$1::bigint')} as n`, values: [after] });
  return rows[0].n;
}
