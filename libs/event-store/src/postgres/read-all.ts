import { ReadAllOptions, ReadAllResult } from '../event-store.types';
import { EVENT_COLUMNS, EventRowShape, toRecordedEvent } from './event-row';
import { Queryable } from './queryable';

export const MAX_READ_ALL_LIMIT = 10_000;

/**
 * `read_all_events`: the global log after a position, gap-safe (see gap-safety.ts): the horizon is
 * computed by one statement, and the events are read by the next one, with a newer snapshot
 * (plpgsql, READ COMMITTED).
 */
export const READ_ALL_SQL = `
create or replace function read_all_events(p_after bigint, p_limit integer, p_category text, p_tenant_id text)
returns setof events
language plpgsql volatile as $$
declare
  v_safe bigint := events_read_horizon() << 16;
begin
  return query
    select * from events e
     where e.global_position > p_after and e.global_position < v_safe
       and (p_category is null or e.category = p_category)
       and (p_tenant_id is null or e.tenant_id = p_tenant_id)
     order by e.global_position
     limit p_limit;
end
$$;
`;

/**
 * Reads the global log after a position, in position order, gap-safe: only positions below the
 * read horizon — those of transactions older than every transaction still running in this
 * database — are returned, so no event can later commit below a position already handed out (see
 * gap-safety.ts for the proof). Optional category and tenant filters.
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
