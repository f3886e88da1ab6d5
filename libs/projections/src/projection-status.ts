import { EventStore } from '@app/event-store';
import { CheckpointRow } from './checkpoints';
import { ProjectionStatusView } from './projection';

/**
 * Status of every projection with its lag: the number of events in the log (up to the safely
 * readable head) that it has not applied yet. During a rebuild the lag is that of the rebuild.
 * One statement: the checkpoints with the store's count of the events after each.
 */
export async function listProjectionStatus(store: EventStore, names?: string[]): Promise<ProjectionStatusView[]> {
  const rows = await store.queryWithUnreadCounts<CheckpointRow & { lag: number }>(
    (unreadAfter) =>
      `select c.*,
              ${unreadAfter("case when c.status = 'REBUILDING' then coalesce(c.rebuild_position, 0) else c.position end")} as lag
         from projection_checkpoints c
        ${names ? 'where c.name = any($1)' : ''}
        order by c.name`,
    names ? [names] : [],
  );
  return rows.map((r) => ({
    name: r.name,
    position: r.position,
    lag: r.lag,
    status: r.status,
    ...(r.last_error ? { lastError: r.last_error } : {}),
    ...(r.status === 'REBUILDING'
      ? { rebuild: { position: r.rebuild_position ?? 0, startedAt: r.rebuild_started_at?.toISOString() } }
      : {}),
  }));
}
