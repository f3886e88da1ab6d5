import { Pool, PoolClient } from 'pg';
import { EventStore, TransactionalOptions } from '../event-store.port';
import {
  AppendOptions,
  AppendResult,
  NewEvent,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  StreamAppend,
  Snapshot,
  Upcaster,
} from '../event-store.types';
import { UpcasterRegistry } from '../upcasters';
import { appendToStream } from './append-to-stream';
import { readAll, readHeadPosition } from './read-all';
import { readStream, readStreams } from './read-stream';
import { appendToStreams, streamsAppendCall, StreamsAppendCall } from './append-to-streams';
import { readSnapshot, storeSnapshot } from './snapshots';
import { EVENTS_CHANNEL, subscribe, SubscribeOptions, Subscription } from './subscribe';

export interface PostgresEventStoreOptions {
  upcasters?: Upcaster[];
  /** NOTIFY subscribers on every append (default true). */
  notify?: boolean;
  /** Called after each successful append outside a transaction (metrics, wake-ups). */
  onAppended?: (result: AppendResult, eventCount: number, ms: number) => void;
}

export class PostgresEventStore implements EventStore {
  readonly upcasters: UpcasterRegistry;
  private readonly notify: boolean;

  constructor(
    readonly pool: Pool,
    private readonly options: PostgresEventStoreOptions = {},
  ) {
    this.upcasters = new UpcasterRegistry(options.upcasters);
    this.notify = options.notify ?? true;
  }

  async appendToStream(streamId: string, events: NewEvent[], options: AppendOptions & TransactionalOptions): Promise<AppendResult> {
    const started = performance.now();
    // NOTIFY inside the append would take PostgreSQL's global notify lock at every commit and
    // serialise all writers; subscribers are woken after the commit instead (notifyAppended).
    const settings = { notify: false };
    let result: AppendResult;
    if (options.tx) {
      const savepoint = options.savepoint !== false;
      result = await appendToStream(options.tx, streamId, events, options, { ...settings, savepoint, abortedOnConflict: !savepoint });
    } else {
      result = await this.withOwnClient((client) => appendToStream(client, streamId, events, options, settings));
      this.notifyAppended();
    }
    this.options.onAppended?.(result, events.length, performance.now() - started);
    return result;
  }

  async appendToStreams(appends: StreamAppend[], options: TransactionalOptions = {}): Promise<AppendResult[]> {
    const started = performance.now();
    let results: AppendResult[];
    if (options.tx) results = await appendToStreams(options.tx, appends, true);
    else {
      results = await this.withOwnClient((client) => appendToStreams(client, appends, false));
      this.notifyAppended();
    }
    const ms = performance.now() - started;
    results.forEach((r, i) => this.options.onAppended?.(r, appends[i].events.length, ms));
    return results;
  }

  /**
   * Runs an append on a client of our own, released without the error: pool.query would discard
   * the connection on an expected conflict (a unique violation), and the next append would pay for
   * a new one. Only a broken connection (an error without a PostgreSQL code) is discarded.
   */
  private async withOwnClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      return await fn(client);
    } catch (err) {
      broken = (err as { code?: unknown }).code === undefined && !(err instanceof Error && err.name === 'EventStoreError');
      throw err;
    } finally {
      client.release(broken);
    }
  }

  streamsAppendCall(appends: StreamAppend[]): StreamsAppendCall {
    const started = performance.now();
    const call = streamsAppendCall(appends);
    return {
      ...call,
      results: (rows) => {
        const results = call.results(rows);
        const ms = performance.now() - started;
        results.forEach((r, i) => this.options.onAppended?.(r, appends[i].events.length, ms));
        return results;
      },
    };
  }

  private notifyTimer?: NodeJS.Timeout;

  /**
   * Wakes LISTENing subscribers in every process after new events committed, coalesced to one
   * NOTIFY per few milliseconds. Callers that append inside their own transaction call it after
   * their commit. Subscribers stay correct without it (they poll).
   */
  notifyAppended(): void {
    if (!this.notify || this.notifyTimer) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      this.pool.query(`select pg_notify('${EVENTS_CHANNEL}', '')`).catch(() => undefined);
    }, 5);
    this.notifyTimer.unref();
  }

  async readStream(streamId: string, options: ReadStreamOptions & TransactionalOptions = {}): Promise<ReadStreamResult> {
    const result = await readStream(options.tx ?? this.pool, streamId, options);
    if (this.upcasters.size) result.events = result.events.map((e) => this.upcasters.upcast(e));
    return result;
  }

  async readStreams(streamIds: string[], options: TransactionalOptions = {}): Promise<Map<string, RecordedEvent[]>> {
    const result = await readStreams(options.tx ?? this.pool, streamIds);
    if (this.upcasters.size) for (const [id, events] of result) result.set(id, events.map((e) => this.upcasters.upcast(e)));
    return result;
  }

  async readAll(options: ReadAllOptions & TransactionalOptions = {}): Promise<ReadAllResult> {
    const result = await readAll(options.tx ?? this.pool, options);
    if (this.upcasters.size) result.events = result.events.map((e) => this.upcasters.upcast(e));
    return result;
  }

  headPosition(): Promise<number> {
    return readHeadPosition(this.pool);
  }

  subscribe(options: SubscribeOptions): Subscription {
    const handler = this.upcasters.size
      ? (events: Parameters<SubscribeOptions['handler']>[0]) => options.handler(events.map((e) => this.upcasters.upcast(e)))
      : options.handler;
    return subscribe(this.pool, { listen: this.notify, ...options, handler });
  }

  readSnapshot<S>(streamId: string, schemaVersion: number, options: TransactionalOptions = {}): Promise<Snapshot<S> | undefined> {
    return readSnapshot<S>(options.tx ?? this.pool, streamId, schemaVersion);
  }

  storeSnapshot(snapshot: Snapshot, options: TransactionalOptions = {}): Promise<void> {
    return storeSnapshot(options.tx ?? this.pool, snapshot);
  }

  async transaction<T>(fn: (tx: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
