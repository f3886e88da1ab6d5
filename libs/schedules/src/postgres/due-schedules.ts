import { ClientBase } from 'pg';

/** The leader's own session (it reads through the connection that holds its leadership). */
type Session = Pick<ClientBase, 'query'>;

export interface DueSchedule {
  tenantId: string;
  scheduleId: string;
}

/**
 * Schedules the leader must look at `now`: a cron time has passed since their last fire, or a fire
 * is decided whose saga start is not recorded. Read from the `schedules` read model, an index only:
 * each is then decided on its own stream, so a lagging row costs a look, never a wrong fire.
 */
export async function dueSchedules(db: Session, now: Date, limit: number): Promise<DueSchedule[]> {
  const { rows } = await db.query<{ tenant_id: string; schedule_id: string }>(
    `select tenant_id, schedule_id from schedules
      where pending_fire_at is not null or next_fire_at <= $1
      order by coalesce(pending_fire_at, next_fire_at)
      limit $2`,
    [now, limit],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, scheduleId: r.schedule_id }));
}

/** The earliest cron time still ahead of `now` among the schedules (undefined: none). */
export async function nextFireAt(db: Session, now: Date): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>('select min(next_fire_at) as at from schedules where next_fire_at > $1', [now]);
  return rows[0]?.at ?? undefined;
}
