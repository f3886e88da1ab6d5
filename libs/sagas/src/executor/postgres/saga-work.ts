import { Pool, PoolClient } from 'pg';

type Db = Pool | PoolClient;

/** Creates or moves the saga's pending-work row (call inside the transaction of the saga event). */
export async function scheduleWork(
  tx: Db,
  work: { sagaId: string; tenantId: string; sagaType: string; dueAt: Date | string },
): Promise<void> {
  await tx.query({
    name: 'saga_schedule_work',
    text: `insert into saga_work (saga_id, tenant_id, saga_type, due_at) values ($1, $2, $3, $4)
           on conflict (saga_id) do update set due_at = excluded.due_at, updated_at = now()`,
    values: [work.sagaId, work.tenantId, work.sagaType, work.dueAt],
  });
}

/** The saga needs no more work (terminal, or waiting for an operator). */
export async function removeWork(tx: Db, sagaId: string): Promise<void> {
  await tx.query({ name: 'saga_remove_work', text: 'delete from saga_work where saga_id = $1', values: [sagaId] });
}

/**
 * Claims up to `limit` due sagas for `owner` for `leaseMs`. SKIP LOCKED lets any number of
 * workers claim at once without waiting for each other; an expired lease (dead worker) is
 * claimable again.
 */
export async function claimDueWork(db: Db, owner: string, limit: number, leaseMs: number): Promise<string[]> {
  const { rows } = await db.query<{ saga_id: string }>({
    name: 'saga_claim_work',
    text: `with due as (
             select saga_id from saga_work
              where due_at <= now() and (lease_until is null or lease_until < now())
              order by due_at
              limit $2
              for update skip locked)
           update saga_work w
              set lease_owner = $1, lease_until = now() + make_interval(secs => $3::double precision / 1000),
                  claims = w.claims + 1
             from due where w.saga_id = due.saga_id
           returning w.saga_id`,
    values: [owner, limit, leaseMs],
  });
  return rows.map((r) => r.saga_id);
}

/** Extends the leases `owner` still holds. */
export async function renewLeases(db: Db, owner: string, sagaIds: string[], leaseMs: number): Promise<void> {
  if (sagaIds.length === 0) return;
  await db.query({
    name: 'saga_renew_leases',
    text: `update saga_work set lease_until = now() + make_interval(secs => $3::double precision / 1000)
            where lease_owner = $1 and saga_id = any($2::uuid[])`,
    values: [owner, sagaIds, leaseMs],
  });
}

/** Gives the saga back, due again at `dueAt` (the row may already be gone: terminal). */
export async function releaseWork(db: Db, owner: string, sagaId: string, dueAt: Date | string): Promise<void> {
  await db.query({
    name: 'saga_release_work',
    text: `update saga_work set lease_owner = null, lease_until = null, due_at = $3, updated_at = now()
            where saga_id = $2 and lease_owner = $1`,
    values: [owner, sagaId, dueAt],
  });
}

/** Releases every lease of `owner` at once (graceful shutdown): others can pick them up now. */
export async function releaseAllLeases(db: Db, owner: string): Promise<void> {
  await db.query(`update saga_work set lease_owner = null, lease_until = null where lease_owner = $1`, [owner]);
}

export async function pendingWorkDepth(db: Db): Promise<{ due: number; total: number }> {
  const { rows } = await db.query(
    `select count(*) filter (where due_at <= now()) as due, count(*) as total from saga_work`,
  );
  return { due: rows[0].due, total: rows[0].total };
}
