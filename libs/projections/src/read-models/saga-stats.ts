import { Queryable } from '@app/event-store';

export interface SagaStats {
  byTypeAndStatus: { type: string; status: string; count: number }[];
  durations: { type: string; p50Ms: number | null; p95Ms: number | null; finished: number }[];
}

/** saga_stats: counts by type and status, and p50 / p95 durations of finished sagas by type. */
export async function querySagaStats(db: Queryable, tenantId?: string): Promise<SagaStats> {
  const filter = tenantId === undefined ? '' : 'where tenant_id = $1';
  const values = tenantId === undefined ? [] : [tenantId];
  const counts = await db.query(
    `select type, status, count(*)::int as count from saga_summaries ${filter} group by type, status order by type, status`,
    values,
  );
  const durations = await db.query(
    `select type,
            percentile_cont(0.5) within group (order by duration_ms) as p50,
            percentile_cont(0.95) within group (order by duration_ms) as p95,
            count(duration_ms)::int as finished
       from saga_summaries ${filter} group by type order by type`,
    values,
  );
  return {
    byTypeAndStatus: counts.rows,
    durations: durations.rows.map((r) => ({
      type: r.type,
      p50Ms: r.p50 === null ? null : Math.round(Number(r.p50)),
      p95Ms: r.p95 === null ? null : Math.round(Number(r.p95)),
      finished: r.finished,
    })),
  };
}
