import { Pool, PoolClient } from 'pg';
import { AppendResult, EventStore, Queryable, StreamAppend } from '@app/event-store';

type Db = Pool | PoolClient;

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
                  claims = w.claims + 1, poked = false
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

/**
 * Gives the saga back, due again at `dueAt` (the row may already be gone: terminal), or at once
 * when an outcome from outside poked it while we held it.
 */
export async function releaseWork(db: Db, owner: string, sagaId: string, dueAt: Date | string): Promise<void> {
  await db.query({
    name: 'saga_release_work',
    text: `update saga_work set lease_owner = null, lease_until = null, updated_at = now(),
                   due_at = case when poked then now() else $3 end, poked = false
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

/**
 * The pending-work changes of a group commit in one statement: rows created or moved, rows
 * removed (terminal sagas), and optionally a NOTIFY on `channel` for other workers.
 */
export async function applyWorkChanges(
  tx: Db,
  changes: {
    schedule: { sagaId: string; tenantId: string; sagaType: string; dueAt: Date }[];
    remove: string[];
    /** Sagas made due by an outcome from outside their holder (see releaseWork). */
    poke?: string[];
    notify?: string;
  },
): Promise<void> {
  const { schedule, remove, notify, poke = [] } = changes;
  if (schedule.length === 0 && remove.length === 0 && !notify) return;
  await tx.query({
    name: 'saga_apply_work_changes',
    text: `with scheduled as (
             insert into saga_work (saga_id, tenant_id, saga_type, due_at)
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
             on conflict (saga_id) do update set due_at = excluded.due_at, updated_at = now(),
                    poked = saga_work.poked or excluded.saga_id = any($7::uuid[])),
           removed as (delete from saga_work where saga_id = any($5::uuid[]))
           select pg_notify($6, '') where $6 is not null`,
    values: [
      schedule.map((w) => w.sagaId),
      schedule.map((w) => w.tenantId),
      schedule.map((w) => w.sagaType),
      schedule.map((w) => w.dueAt),
      remove,
      notify ?? null,
      poke,
    ],
  });
}

export interface WorkChanges {
  schedule: { sagaId: string; tenantId: string; sagaType: string; dueAt: Date }[];
  remove: string[];
  poke?: string[];
}

/**
 * A group commit in ONE statement (atomic without a transaction): the event store's multi-stream
 * append (all or nothing, after locking the `lock` streams: see EventStore.lockStreams) and the
 * pending-work changes it implies, written alongside it in the same statement, after the append
 * (they read its rows, so the locks come first). Returns the append's results; a version conflict
 * fails the whole statement.
 */
export function appendWithWorkChanges(
  tx: Queryable,
  store: EventStore,
  appends: StreamAppend[],
  changes: WorkChanges,
  lock: string[],
): Promise<AppendResult[]> {
  const { schedule, remove } = changes;
  return store.appendToStreams(appends, {
    tx,
    lock,
    alongside: {
      name: 'saga_group_commit',
      ctes: `scheduled as (
               insert into saga_work (saga_id, tenant_id, saga_type, due_at)
               select u.* from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) as u
                where exists (select 1 from appended)
               on conflict (saga_id) do update set due_at = excluded.due_at, updated_at = now()),
             removed as (delete from saga_work where saga_id = any($5::uuid[]) and exists (select 1 from appended))`,
      values: [schedule.map((w) => w.sagaId), schedule.map((w) => w.tenantId), schedule.map((w) => w.sagaType), schedule.map((w) => w.dueAt), remove],
    },
  });
}
