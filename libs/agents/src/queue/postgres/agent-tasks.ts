import { Pool, PoolClient } from 'pg';
import type { ExternalTask, ExternalWorkChanges } from '@app/sagas';

type Db = Pool | PoolClient;

/** NOTIFY channel of new agent tasks; the payload is the tenant id. */
export const AGENT_TASKS_CHANNEL = 'saga_agent_tasks';

export type AgentTaskState = 'QUEUED' | 'LOCKED' | 'DONE' | 'FAILED' | 'CANCELLED' | 'EXPIRED';

export interface AgentTaskRow {
  task_id: string;
  tenant_id: string;
  saga_id: string;
  step: string;
  attempt: number;
  capability: string | null;
  agent_id: string | null;
  priority: number;
  input: unknown;
  state: AgentTaskState;
  enqueued_at: Date;
  lock_token: string | null;
  locked_by: string | null;
  locked_agent_id: string | null;
  locked_until: Date | null;
  lock_expiries: number;
  progress: unknown;
  traceparent: string | null;
}

/**
 * Queues the attempts a transition started (in its transaction) and settles the ones it ended.
 * An attempt already queued (a replayed transition) or older than the stored one changes nothing;
 * a new attempt of the same task takes the row over with a fresh lock state.
 */
export async function applyQueueChanges(tx: Db, changes: ExternalWorkChanges): Promise<void> {
  const { enqueue, settle } = changes;
  if (settle.length) {
    await tx.query({
      name: 'agent_tasks_settle',
      text: `update agent_tasks t set state = s.state, finished_at = now(), locked_until = null
               from jsonb_to_recordset($1::jsonb) as s(saga_id uuid, step text, attempt int, state text)
              where t.saga_id = s.saga_id and t.step = s.step and t.attempt = s.attempt and t.state in ('QUEUED', 'LOCKED')`,
      values: [JSON.stringify(settle.map((s) => ({ saga_id: s.sagaId, step: s.step, attempt: s.attempt, state: s.state })))],
    });
  }
  if (enqueue.length) {
    await tx.query({
      name: 'agent_tasks_enqueue',
      text: `with rows as (
               select r.*, now() + make_interval(secs => coalesce(r.delay_ms, 0) / 1000.0) as nb
                 from jsonb_to_recordset($1::jsonb) as r(task_id uuid, tenant_id text, saga_id uuid, step text, attempt int,
                      capability text, agent_id uuid, priority int, input jsonb, delay_ms bigint, ttl_ms bigint,
                      attempt_timeout_ms int, traceparent text)),
             queued as (
               insert into agent_tasks (task_id, tenant_id, saga_id, step, attempt, capability, agent_id, priority, input,
                                        state, enqueued_at, not_before, expires_at, attempt_timeout_ms, traceparent)
               select task_id, tenant_id, saga_id, step, attempt, capability, agent_id, priority, coalesce(input, '{}'::jsonb),
                      'QUEUED', now(), nb,
                      case when ttl_ms is null then null else nb + make_interval(secs => ttl_ms / 1000.0) end,
                      attempt_timeout_ms, traceparent
                 from rows
               on conflict (task_id) do update
                  set attempt = excluded.attempt, state = 'QUEUED', input = excluded.input, priority = excluded.priority,
                      enqueued_at = excluded.enqueued_at, not_before = excluded.not_before, expires_at = excluded.expires_at,
                      attempt_timeout_ms = excluded.attempt_timeout_ms, lock_token = null, locked_by = null,
                      locked_agent_id = null, locked_at = null, locked_until = null, first_locked_at = null,
                      lock_expiries = 0, progress = null, finished_at = null, traceparent = excluded.traceparent
                where agent_tasks.attempt < excluded.attempt
               returning tenant_id)
           select pg_notify('${AGENT_TASKS_CHANNEL}', tenant_id) from (select distinct tenant_id from queued) q`,
      values: [JSON.stringify(enqueue.map(toRow))],
    });
  }
}

function toRow(t: ExternalTask) {
  return {
    task_id: t.taskId,
    tenant_id: t.tenantId,
    saga_id: t.sagaId,
    step: t.step,
    attempt: t.attempt,
    capability: t.capability ?? null,
    agent_id: t.agentId ?? null,
    priority: t.priority,
    input: t.input ?? {},
    delay_ms: t.delayMs ?? null,
    ttl_ms: t.ttlMs ?? null,
    attempt_timeout_ms: t.attemptTimeoutMs ?? null,
    // The attempt's span in the saga's trace: the poll response hands it to the agent.
    traceparent: t.traceparent ?? null,
  };
}

/**
 * Locks up to `max` available tasks for one instance: the agent's tenant, its capabilities or
 * addressed to it, highest priority first, then oldest; a fresh token per lock (fencing).
 * SKIP LOCKED: any number of instances poll at once without waiting for each other.
 */
export async function lockTasks(
  db: Db,
  q: { tenantId: string; agentId: string; capabilities: string[]; instanceId: string; max: number; lockMs: number },
): Promise<AgentTaskRow[]> {
  const { rows } = await db.query<AgentTaskRow>({
    name: 'agent_tasks_lock',
    text: `with picked as (
             select task_id from agent_tasks
              where state = 'QUEUED' and tenant_id = $1 and not_before <= now()
                and (expires_at is null or expires_at > now())
                and (capability = any($2::text[]) or agent_id = $3)
              order by priority desc, enqueued_at, task_id
              limit $5
              for update skip locked)
           update agent_tasks t
              set state = 'LOCKED', lock_token = gen_random_uuid(), locked_by = $4, locked_agent_id = $3, locked_at = now(),
                  locked_until = now() + make_interval(secs => $6::double precision / 1000),
                  first_locked_at = coalesce(t.first_locked_at, now())
             from picked where t.task_id = picked.task_id
           returning t.*`,
    values: [q.tenantId, q.capabilities, q.agentId, q.instanceId, q.max, q.lockMs],
  });
  return rows.sort((a, b) => b.priority - a.priority || a.enqueued_at.getTime() - b.enqueued_at.getTime());
}

/** One task of the tenant (any state), or undefined. */
export async function findTask(db: Db, tenantId: string, taskId: string, forUpdate = false): Promise<AgentTaskRow | undefined> {
  const { rows } = await db.query<AgentTaskRow>(
    `select * from agent_tasks where task_id = $1 and tenant_id = $2${forUpdate ? ' for update' : ''}`,
    [taskId, tenantId],
  );
  return rows[0];
}

/** Ends the lock's attempt (in the outcome's transaction): the row leaves the queue. */
export async function finishLockedTask(tx: Db, taskId: string, lockToken: string, state: 'DONE' | 'FAILED'): Promise<boolean> {
  const { rowCount } = await tx.query(
    `update agent_tasks set state = $3, finished_at = now(), locked_until = null
      where task_id = $1 and lock_token = $2 and state = 'LOCKED'`,
    [taskId, lockToken, state],
  );
  return (rowCount ?? 0) > 0;
}

export async function extendLock(db: Db, tenantId: string, taskId: string, lockToken: string, lockMs: number): Promise<Date | undefined> {
  const { rows } = await db.query<{ locked_until: Date }>(
    `update agent_tasks set locked_until = now() + make_interval(secs => $4::double precision / 1000)
      where task_id = $1 and tenant_id = $2 and lock_token = $3 and state = 'LOCKED'
      returning locked_until`,
    [taskId, tenantId, lockToken, lockMs],
  );
  return rows[0]?.locked_until;
}

export async function recordProgress(db: Db, tenantId: string, taskId: string, lockToken: string, progress: { percent: number; message?: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    `update agent_tasks set progress = $4::jsonb where task_id = $1 and tenant_id = $2 and lock_token = $3 and state = 'LOCKED'`,
    [taskId, tenantId, lockToken, JSON.stringify({ ...progress, at: new Date().toISOString() })],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Locks that ran out go back to the queue (`requeued`), unless it is their third expiry: those are
 * returned as `exhausted` for the monitor to fail with LOCK_EXPIRED (their rows stay LOCKED until
 * that outcome commits).
 */
export async function expireLocks(db: Db, maxExpiries: number): Promise<{ requeued: { tenant_id: string }[]; exhausted: AgentTaskRow[] }> {
  const requeued = await db.query<{ tenant_id: string }>(
    `update agent_tasks set state = 'QUEUED', lock_token = null, locked_by = null, locked_agent_id = null, locked_at = null,
            locked_until = null, lock_expiries = lock_expiries + 1
      where state = 'LOCKED' and locked_until < now() and lock_expiries + 1 < $1
      returning tenant_id`,
    [maxExpiries],
  );
  const exhausted = await db.query<AgentTaskRow>(
    `select * from agent_tasks where state = 'LOCKED' and locked_until < now() and lock_expiries + 1 >= $1 limit 500`,
    [maxExpiries],
  );
  return { requeued: requeued.rows, exhausted: exhausted.rows };
}

/** Queued tasks no instance took before their expiry (TTL). */
export async function expiredTasks(db: Db): Promise<AgentTaskRow[]> {
  const { rows } = await db.query<AgentTaskRow>(
    `select * from agent_tasks where state = 'QUEUED' and expires_at is not null and expires_at <= now() order by expires_at limit 500`,
  );
  return rows;
}

/** Attempts that outlived their timeout, counted from their first lock. */
export async function timedOutTasks(db: Db): Promise<(AgentTaskRow & { attempt_timeout_ms: number })[]> {
  const { rows } = await db.query(
    `select * from agent_tasks
      where state in ('QUEUED', 'LOCKED') and attempt_timeout_ms is not null and first_locked_at is not null
        and first_locked_at + make_interval(secs => attempt_timeout_ms / 1000.0) <= now()
      limit 500`,
  );
  return rows;
}

/** An instance that went OFFLINE gives its locks back at once (not counted as expiries). */
export async function releaseInstanceLocks(db: Db, agentId: string, instanceId?: string): Promise<{ tenant_id: string }[]> {
  const { rows } = await db.query<{ tenant_id: string }>(
    `update agent_tasks set state = 'QUEUED', lock_token = null, locked_by = null, locked_agent_id = null, locked_at = null,
            locked_until = null
      where state = 'LOCKED' and locked_agent_id = $1 and ($2::text is null or locked_by = $2)
      returning tenant_id`,
    [agentId, instanceId ?? null],
  );
  return rows;
}

/** Finished rows are kept a while (late calls get the right answer), then deleted. */
export async function purgeFinished(db: Db, olderThanMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from agent_tasks where finished_at is not null and finished_at < now() - make_interval(secs => $1::double precision / 1000)`,
    [olderThanMs],
  );
  return rowCount ?? 0;
}

export interface QueueDepthRow {
  capability: string;
  pending: number;
  locked: number;
  delayed: number;
  oldest_pending_at: Date | null;
}

/** Per capability (initial tasks addressed to an agent count under `initial`). */
export async function queueDepths(db: Db, tenantId?: string): Promise<(QueueDepthRow & { tenant_id: string })[]> {
  const { rows } = await db.query(
    `select tenant_id, coalesce(capability, 'initial') as capability,
            count(*) filter (where state = 'QUEUED' and not_before <= now())::int as pending,
            count(*) filter (where state = 'LOCKED')::int as locked,
            count(*) filter (where state = 'QUEUED' and not_before > now())::int as delayed,
            min(enqueued_at) filter (where state = 'QUEUED' and not_before <= now()) as oldest_pending_at
       from agent_tasks
      where state in ('QUEUED', 'LOCKED') and ($1::text is null or tenant_id = $1)
      group by 1, 2 order by 1, 2`,
    [tenantId ?? null],
  );
  return rows;
}

/** Pending (available) tasks an agent could take: its capabilities, or addressed to it. */
export async function pendingFor(db: Db, tenantId: string, agentId: string, capabilities: string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from agent_tasks
      where state = 'QUEUED' and tenant_id = $1 and not_before <= now() and (capability = any($2::text[]) or agent_id = $3)`,
    [tenantId, capabilities, agentId],
  );
  return rows[0].n;
}

/** What the saga view shows of a saga's agent tasks (queue and progress per step). */
export async function sagaTasks(db: Db, tenantId: string, sagaId: string): Promise<AgentTaskRow[]> {
  const { rows } = await db.query(`select * from agent_tasks where tenant_id = $1 and saga_id = $2`, [tenantId, sagaId]);
  return rows;
}
