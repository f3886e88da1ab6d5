import { Client, Pool, PoolClient } from 'pg';
import { EventStore, RecordedEvent, EVENTS_CHANNEL, failureBackoffMs, WakeableSleep } from '@app/event-store';
import { quoteIdent, withTransaction } from '@app/database';
import { ensureCheckpoint, markFailed, readCheckpoint, requestRebuild, setStatus, storeCheckpoint } from './checkpoints';
import { Projection } from './projection';

export interface ProjectionRunnerOptions {
  batchSize?: number;
  rebuildBatchSize?: number;
  /** Fallback polling when no wake-up arrives. */
  pollIntervalMs?: number;
  /** How often a standby instance tries to become the active one. */
  leadershipRetryMs?: number;
  /** LISTEN for append notifications (one connection per runner). */
  listen?: boolean;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

// Advisory-lock namespace of projection leadership (the second key is hashtext(name)).
const LEADERSHIP_LOCK_CLASS = 7411;

/**
 * Runs async projections: one active instance per projection across any number of processes
 * (a session-level advisory lock held on a dedicated connection; when that process dies, its
 * session ends, the lock is freed and a standby takes over). Batches are read from the global log
 * after the checkpoint and applied together with the new checkpoint in one transaction, after
 * checking (FOR UPDATE) that nobody else moved the checkpoint: a batch is applied exactly once.
 */
export class ProjectionRunner {
  private readonly workers: ProjectionWorker[];
  private session?: Client;
  private connecting?: Promise<Client>;
  private stopped = true;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    readonly projections: Projection[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.workers = projections.filter((p) => p.mode !== 'inline').map((p) => new ProjectionWorker(pool, store, p, options, this));
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    // With the database away (a worker started before it, or losing it now) the checkpoints are
    // made later by each projection's own loop, which retries with backoff: start never fails.
    try {
      for (const w of this.workers) await ensureCheckpoint(this.pool, w.projection.name);
      await this.leaderSession();
    } catch (err) {
      // Retried by each projection's loop, which logs its own failures from then on.
      this.options.log?.('projection start failed; retrying', { error: (err as Error).message });
    }
    this.workers.forEach((w) => w.start());
  }

  /** Wake every projection now (e.g. on a Redis notification of new events). */
  wake(): void {
    this.workers.forEach((w) => w.wake());
  }

  /**
   * Marks a projection for rebuild; its active instance (here or elsewhere) picks it up. False for
   * a name this runner does not run (unknown, or inline).
   */
  async rebuild(name: string): Promise<boolean> {
    if (!this.workers.some((w) => w.projection.name === name)) return false;
    const ok = await requestRebuild(this.pool, name);
    this.wake();
    return ok;
  }

  isLeader(name: string): boolean {
    return this.workers.find((w) => w.projection.name === name)?.isLeader ?? false;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.workers.map((w) => w.stop()));
    const session = this.session;
    this.session = undefined;
    // Ending the session frees every advisory lock it held: standbys take over at once.
    await session?.end().catch(() => undefined);
  }

  /**
   * One dedicated connection (outside the pool) per runner holds the leadership locks of all its
   * projections and LISTENs for appends. Should it break, every lock is gone with it: the workers
   * notice (`isCurrent`) and compete for leadership again on a new session.
   */
  async leaderSession(): Promise<Client> {
    if (this.session) return this.session;
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      // The pool's own client class (the embedded mode brings its own).
      const PoolClientClass = (this.pool as unknown as { Client?: typeof Client }).Client ?? Client;
      const client = new PoolClientClass(this.pool.options);
      client.on('error', () => {
        if (this.session === client) this.session = undefined;
        client.end().catch(() => undefined);
      });
      await client.connect();
      if (this.options.listen !== false) {
        client.on('notification', () => this.wake());
        await client.query(`listen ${EVENTS_CHANNEL}`).catch(() => undefined);
      }
      if (this.stopped) {
        await client.end().catch(() => undefined);
        throw new Error('runner stopped');
      }
      this.session = client;
      return client;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  isCurrent(session: Client | undefined): boolean {
    return session !== undefined && session === this.session;
  }

  private sessionQueue: Promise<unknown> = Promise.resolve();

  /** Runs a query on the leadership session, one at a time (the workers share it). */
  async onSession<T>(fn: (session: Client) => Promise<T>): Promise<{ session: Client; result: T }> {
    const run = this.sessionQueue.then(async () => {
      const session = await this.leaderSession();
      return { session, result: await fn(session) };
    });
    this.sessionQueue = run.catch(() => undefined);
    return run;
  }
}

class ProjectionWorker {
  private stopped = true;
  private loop?: Promise<void>;
  private leader?: Client;
  private position = 0;
  private readonly pause = new WakeableSleep();
  private readonly types: Set<string>;
  private readonly batchSize: number;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    readonly projection: Projection,
    private readonly options: ProjectionRunnerOptions,
    private readonly runner: ProjectionRunner,
  ) {
    this.types = new Set(projection.eventTypes);
    this.batchSize = options.batchSize ?? 1000;
  }

  get isLeader(): boolean {
    return this.runner.isCurrent(this.leader);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pause.reset();
    this.loop = this.run();
  }

  wake(): void {
    this.pause.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pause.cancel();
    await this.loop;
    await this.resign();
  }

  private log(message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(message, { projection: this.projection.name, ...fields });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.pause.consume();
      try {
        if (!(await this.acquireLeadership())) {
          await this.pause.sleep(this.options.leadershipRetryMs ?? 1000);
          continue;
        }
        let cp = await readCheckpoint(this.pool, this.projection.name);
        if (!cp) {
          await ensureCheckpoint(this.pool, this.projection.name);
          cp = await readCheckpoint(this.pool, this.projection.name);
          if (!cp) throw new Error(`no checkpoint row for ${this.projection.name}`);
        }
        if (cp.rebuild_requested) {
          try {
            await this.rebuild();
          } catch (err) {
            // Visible to operators; the rebuild is tried again (from zero) after the backoff.
            await this.pool
              .query('update projection_checkpoints set last_error = $2, updated_at = now() where name = $1', [
                this.projection.name,
                (err as Error).message,
              ])
              .catch(() => undefined);
            throw err;
          }
          failures = 0;
          continue;
        }
        this.position = cp.position;
        const caughtUp = await this.applyNextBatch();
        failures = 0;
        if (caughtUp) await this.pause.sleep(this.options.pollIntervalMs ?? 200);
      } catch (err) {
        failures++;
        this.log('projection batch failed', { error: (err as Error).message, attempt: failures });
        // A backoff that wake-ups cannot cut short: under load they would otherwise turn every
        // append into another attempt and push the delay to its cap within seconds.
        await this.pause.sleep(failureBackoffMs(failures), { wakeable: false });
      }
    }
  }

  private async acquireLeadership(): Promise<boolean> {
    if (this.isLeader) return true;
    this.leader = undefined;
    const { session, result: ok } = await this.runner.onSession(async (s) => {
      const { rows } = await s.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [
        LEADERSHIP_LOCK_CLASS,
        this.projection.name,
      ]);
      return rows[0].ok;
    });
    if (!ok) return false;
    this.leader = session;
    this.log('projection leadership acquired');
    return true;
  }

  private async resign(): Promise<void> {
    const session = this.leader;
    this.leader = undefined;
    if (!this.runner.isCurrent(session)) return;
    await this.runner
      .onSession(async (s) => {
        if (s === session) await s.query('select pg_advisory_unlock($1, hashtext($2))', [LEADERSHIP_LOCK_CLASS, this.projection.name]);
      })
      .catch(() => undefined);
  }

  /** Applies one batch after the checkpoint; true when the log had nothing more. */
  private async applyNextBatch(): Promise<boolean> {
    const page = await this.store.readAll({ after: this.position, limit: this.batchSize });
    if (page.events.length === 0) {
      await setStatus(this.pool, this.projection.name, 'LIVE');
      if (this.projection.onIdle) await this.idle();
      return true;
    }
    const relevant = page.events.filter((e) => this.types.has(e.type));
    const last = page.events[page.events.length - 1].globalPosition;
    const caughtUp = page.events.length < this.batchSize;
    try {
      const applied = await withTransaction(this.pool, async (client) => {
        const cp = await readCheckpoint(client, this.projection.name, true);
        // Someone else moved it (a previous leader's last batch), or a rebuild was asked for.
        // Nothing is written then: committing only lets go of the row lock.
        if (!cp || cp.position !== this.position || cp.rebuild_requested) return false;
        if (relevant.length) await this.projection.handle(relevant, { tx: client });
        await storeCheckpoint(client, this.projection.name, last, caughtUp ? 'LIVE' : 'CATCHING_UP');
        return true;
      });
      if (!applied) return false;
      this.position = last;
      return caughtUp;
    } catch (err) {
      const failedAt = relevant[0]?.globalPosition ?? page.events[0].globalPosition;
      await markFailed(this.pool, this.projection.name, (err as Error).message, failedAt).catch(() => undefined);
      throw err;
    }
  }

  private idle(): Promise<void> {
    return withTransaction(this.pool, (client) => this.projection.onIdle!({ tx: client, position: this.position }));
  }

  /**
   * Rebuilds from zero into a schema of its own (same tables, same indexes), while queries keep
   * answering from the live tables; when caught up, swaps the tables in one transaction together
   * with the checkpoint.
   */
  private async rebuild(): Promise<void> {
    const name = this.projection.name;
    const schema = `rebuild_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`.toLowerCase();
    const started = Date.now();
    this.log('projection rebuild started');
    await this.pool.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
    await this.pool.query(`create schema ${quoteIdent(schema)}`);
    for (const t of this.projection.tables) {
      await this.pool.query(`create table ${quoteIdent(schema)}.${quoteIdent(t)} (like public.${quoteIdent(t)} including all)`);
    }
    const batch = this.options.rebuildBatchSize ?? 5000;
    let position = 0;
    let applied = 0;
    const applyInto = async (client: PoolClient, events: RecordedEvent[]) => {
      const relevant = events.filter((e) => this.types.has(e.type));
      if (relevant.length) await this.projection.handle(relevant, { tx: client });
      applied += events.length;
    };

    for (;;) {
      if (this.stopped) return;
      const page = await this.store.readAll({ after: position, limit: batch });
      if (page.events.length === 0) break;
      await withTransaction(this.pool, async (client) => {
        await client.query(`set local search_path to ${quoteIdent(schema)}, public`);
        await applyInto(client, page.events);
        await client.query('update projection_checkpoints set rebuild_position = $2, updated_at = now() where name = $1', [
          name,
          page.lastPosition,
        ]);
      });
      position = page.lastPosition;
      if (page.events.length < batch) break;
    }

    // Swap: apply the last tail and exchange the tables atomically with the checkpoint.
    await withTransaction(this.pool, async (client) => {
      await client.query(`set local search_path to ${quoteIdent(schema)}, public`);
      for (;;) {
        const page = await this.store.readAll({ after: position, limit: batch, tx: client });
        if (page.events.length === 0) break;
        await applyInto(client, page.events);
        position = page.lastPosition;
      }
      for (const t of this.projection.tables) {
        const names = await indexNamesByDefinition(client, 'public', t);
        const copies = await indexNamesByDefinition(client, schema, t);
        await client.query(`drop table public.${quoteIdent(t)}`);
        await client.query(`alter table ${quoteIdent(schema)}.${quoteIdent(t)} set schema public`);
        // `like ... including all` names the copied indexes itself: give them back the names the
        // migrations chose, so later migrations can still refer to them.
        for (const [definition, copyName] of copies) {
          const original = names.get(definition);
          if (original && original !== copyName) await client.query(`alter index public.${quoteIdent(copyName)} rename to ${quoteIdent(original)}`);
        }
      }
      await client.query(`drop schema ${quoteIdent(schema)}`);
      await client.query(
        `update projection_checkpoints
            set position = $2, status = 'LIVE', rebuild_requested = false, rebuild_position = null,
                rebuilt_at = now(), last_error = null, failed_position = null, updated_at = now()
          where name = $1`,
        [name, position],
      );
    });
    this.position = position;
    const secs = (Date.now() - started) / 1000;
    this.log('projection rebuild finished', { events: applied, seconds: secs, eventsPerSec: Math.round(applied / Math.max(secs, 0.001)) });
  }
}

/** Index name by its definition with the index name and schema taken out (to pair copies). */
async function indexNamesByDefinition(client: PoolClient, schema: string, table: string): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; def: string }>(
    `select i.relname as name, pg_get_indexdef(i.oid) as def
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_class t on t.oid = x.indrelid
       join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = $1 and t.relname = $2`,
    [schema, table],
  );
  const map = new Map<string, string>();
  for (const r of rows) {
    const shape = r.def.replace(/INDEX \S+ ON \S+\./, 'INDEX ON ');
    map.set(shape, r.name);
  }
  return map;
}
