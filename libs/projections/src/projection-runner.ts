import { Pool, PoolClient } from 'pg';
import { EventStore, RecordedEvent, EVENTS_CHANNEL } from '@app/event-store';
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
  private listener?: PoolClient;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    readonly projections: Projection[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.workers = projections.filter((p) => p.mode !== 'inline').map((p) => new ProjectionWorker(pool, store, p, options));
  }

  async start(): Promise<void> {
    for (const p of this.projections) await ensureCheckpoint(this.pool, p.name);
    if (this.options.listen !== false) await this.listen();
    this.workers.forEach((w) => w.start());
  }

  /** Wake every projection now (e.g. on a Redis notification of new events). */
  wake(): void {
    this.workers.forEach((w) => w.wake());
  }

  /** Marks a projection for rebuild; its active instance (here or elsewhere) picks it up. */
  async rebuild(name: string): Promise<boolean> {
    const ok = await requestRebuild(this.pool, name);
    this.wake();
    return ok;
  }

  isLeader(name: string): boolean {
    return this.workers.find((w) => w.projection.name === name)?.isLeader ?? false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers.map((w) => w.stop()));
    if (this.listener) {
      const l = this.listener;
      this.listener = undefined;
      l.removeAllListeners('notification');
      await l.query(`unlisten ${EVENTS_CHANNEL}`).catch(() => undefined);
      l.release();
    }
  }

  private async listen(): Promise<void> {
    try {
      const client = await this.pool.connect();
      client.on('notification', () => this.wake());
      client.on('error', () => {
        if (this.listener === client) this.listener = undefined;
        client.release(true);
      });
      await client.query(`listen ${EVENTS_CHANNEL}`);
      this.listener = client;
    } catch {
      // Polling alone stays correct.
    }
    if (!this.stopped && !this.listener) setTimeout(() => void (!this.stopped && this.listen()), 5000).unref();
  }
}

class ProjectionWorker {
  private stopped = false;
  private loop?: Promise<void>;
  private leader?: PoolClient;
  private position = 0;
  private pendingWake = false;
  private wakeUp?: () => void;
  private readonly types: Set<string>;
  private readonly batchSize: number;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    readonly projection: Projection,
    private readonly options: ProjectionRunnerOptions,
  ) {
    this.types = new Set(projection.eventTypes);
    this.batchSize = options.batchSize ?? 1000;
  }

  get isLeader(): boolean {
    return this.leader !== undefined;
  }

  start(): void {
    this.loop = this.run();
  }

  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    await this.resign();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.pendingWake || this.stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private log(message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(message, { projection: this.projection.name, ...fields });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.pendingWake = false;
      try {
        if (!(await this.acquireLeadership())) {
          await this.sleep(this.options.leadershipRetryMs ?? 1000);
          continue;
        }
        const cp = await readCheckpoint(this.pool, this.projection.name);
        if (!cp) throw new Error(`no checkpoint row for ${this.projection.name}`);
        if (cp.rebuild_requested) {
          await this.rebuild();
          failures = 0;
          continue;
        }
        this.position = cp.position;
        const caughtUp = await this.applyNextBatch();
        failures = 0;
        if (caughtUp) await this.sleep(this.options.pollIntervalMs ?? 200);
      } catch (err) {
        failures++;
        this.log('projection batch failed', { error: (err as Error).message, attempt: failures });
        await this.sleep(Math.min(30_000, 100 * 2 ** Math.min(failures, 9)));
      }
    }
  }

  private async acquireLeadership(): Promise<boolean> {
    if (this.leader) return true;
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [
        LEADERSHIP_LOCK_CLASS,
        this.projection.name,
      ]);
      if (!rows[0].ok) {
        client.release();
        return false;
      }
    } catch (err) {
      client.release(true);
      throw err;
    }
    client.on('error', () => {
      // Our session is gone, and with it the lock: stop acting as the leader.
      if (this.leader === client) this.leader = undefined;
      client.release(true);
    });
    this.leader = client;
    this.log('projection leadership acquired');
    return true;
  }

  private async resign(): Promise<void> {
    const client = this.leader;
    this.leader = undefined;
    if (!client) return;
    try {
      await client.query('select pg_advisory_unlock($1, hashtext($2))', [LEADERSHIP_LOCK_CLASS, this.projection.name]);
      client.release();
    } catch {
      client.release(true);
    }
  }

  /** Applies one batch after the checkpoint; true when the log had nothing more. */
  private async applyNextBatch(): Promise<boolean> {
    const page = await this.store.readAll({ after: this.position, limit: this.batchSize });
    if (page.events.length === 0) {
      await setStatus(this.pool, this.projection.name, 'LIVE');
      return true;
    }
    const relevant = page.events.filter((e) => this.types.has(e.type));
    const last = page.events[page.events.length - 1].globalPosition;
    const caughtUp = page.events.length < this.batchSize;
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const cp = await readCheckpoint(client, this.projection.name, true);
      if (!cp || cp.position !== this.position || cp.rebuild_requested) {
        // Someone else moved it (a previous leader's last batch), or a rebuild was asked for.
        await client.query('rollback');
        return false;
      }
      if (relevant.length) await this.projection.handle(relevant, { tx: client });
      await storeCheckpoint(client, this.projection.name, last, caughtUp ? 'LIVE' : 'CATCHING_UP');
      await client.query('commit');
      this.position = last;
      return caughtUp;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      const failedAt = relevant[0]?.globalPosition ?? page.events[0].globalPosition;
      await markFailed(this.pool, this.projection.name, (err as Error).message, failedAt).catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Rebuilds from zero into a schema of its own (same tables, same indexes), while queries keep
   * answering from the live tables; when caught up, swaps the tables in one transaction together
   * with the checkpoint.
   */
  private async rebuild(): Promise<void> {
    const name = this.projection.name;
    const schema = `rebuild_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`.toLowerCase();
    const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
    const started = Date.now();
    this.log('projection rebuild started');
    await this.pool.query(`drop schema if exists ${q(schema)} cascade`);
    await this.pool.query(`create schema ${q(schema)}`);
    for (const t of this.projection.tables) {
      await this.pool.query(`create table ${q(schema)}.${q(t)} (like public.${q(t)} including all)`);
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
      const client = await this.pool.connect();
      try {
        await client.query('begin');
        await client.query(`set local search_path to ${q(schema)}, public`);
        await applyInto(client, page.events);
        await client.query('update projection_checkpoints set rebuild_position = $2, updated_at = now() where name = $1', [
          name,
          page.lastPosition,
        ]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      position = page.lastPosition;
      if (page.events.length < batch) break;
    }

    // Swap: apply the last tail and exchange the tables atomically with the checkpoint.
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local search_path to ${q(schema)}, public`);
      for (;;) {
        const page = await this.store.readAll({ after: position, limit: batch, tx: client });
        if (page.events.length === 0) break;
        await applyInto(client, page.events);
        position = page.lastPosition;
      }
      for (const t of this.projection.tables) {
        await client.query(`drop table public.${q(t)}`);
        await client.query(`alter table ${q(schema)}.${q(t)} set schema public`);
      }
      await client.query(`drop schema ${q(schema)}`);
      await client.query(
        `update projection_checkpoints
            set position = $2, status = 'LIVE', rebuild_requested = false, rebuild_position = null,
                rebuilt_at = now(), last_error = null, failed_position = null, updated_at = now()
          where name = $1`,
        [name, position],
      );
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    this.position = position;
    const secs = (Date.now() - started) / 1000;
    this.log('projection rebuild finished', { events: applied, seconds: secs, eventsPerSec: Math.round(applied / Math.max(secs, 0.001)) });
  }
}
