import { Pool, PoolClient } from 'pg';
import { withTransaction } from '@app/database';
import { AppendToStreamsOptions, EventStore, TransactionalOptions } from '../event-store.port';
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
  StreamHead,
  Snapshot,
  Upcaster,
} from '../event-store.types';
import { UpcasterRegistry } from '../upcasters';
import { GroupCommitQueue, isBrokenConnection, Pending } from '../group-commit-queue';
import { appendPayload, appendToStream, expectedKind } from './append-to-stream';
import { inAppendSpan } from './append-span';
import { readAll } from './read-all';
import { countEvents, readHeadPosition, unreadAfterSql } from './log-head';
import { readStream, readStreams } from './read-stream';
import { readStreamHead } from './stream-head';
import { appendToStreams, streamsAppendCall } from './append-to-streams';
import { lockStreams } from './lock-streams';
import { Queryable } from './queryable';
import { readSnapshot, storeSnapshot } from './snapshots';
import { EVENTS_CHANNEL, subscribe, SubscribeOptions, Subscription } from './subscribe';

export interface PostgresEventStoreOptions {
  upcasters?: Upcaster[];
  /** NOTIFY subscribers on every append (default true). */
  notify?: boolean;
  /** Called after each successful append outside a transaction (metrics, wake-ups). */
  onAppended?: (result: AppendResult, eventCount: number, ms: number) => void;
  /**
   * Group commit of concurrent appends made outside a transaction: appends that arrive while
   * others are being written are written together, in one statement and one commit, each still
   * checked and applied on its own (a conflicting one writes nothing and fails alone). Defaults:
   * up to 64 appends per statement, 2 statements at once (measured best for W1/W2 among 1, 2, 4, 8);
   * `false`: every append commits alone.
   */
  groupCommit?: { maxSize?: number; maxInFlight?: number } | false;
}

/** An append waiting for the group commit. */
interface GroupedAppend {
  streamId: string;
  events: NewEvent[];
  options: AppendOptions;
  append: StreamAppend;
}

export class PostgresEventStore implements EventStore {
  readonly upcasters: UpcasterRegistry;
  private readonly notify: boolean;
  private readonly grouping: GroupCommitQueue<GroupedAppend, AppendResult> | undefined;

  constructor(
    readonly pool: Pool,
    private readonly options: PostgresEventStoreOptions = {},
  ) {
    this.upcasters = new UpcasterRegistry(options.upcasters);
    this.notify = options.notify ?? true;
    const g = options.groupCommit;
    this.grouping =
      g === false ? undefined : new GroupCommitQueue({ maxSize: g?.maxSize ?? 64, maxInFlight: g?.maxInFlight ?? 2 }, (group) => this.flushAppends(group));
  }

  appendToStream(streamId: string, events: NewEvent[], options: AppendOptions & TransactionalOptions): Promise<AppendResult> {
    return inAppendSpan(
      'append_to_stream',
      () => ({ 'event_store.stream_id': streamId, 'event_store.event_count': events.length }),
      () => this.appendOne(streamId, events, options),
    );
  }

  private async appendOne(streamId: string, events: NewEvent[], options: AppendOptions & TransactionalOptions): Promise<AppendResult> {
    const started = performance.now();
    // NOTIFY inside the append would take PostgreSQL's global notify lock at every commit and
    // serialise all writers; subscribers are woken after the commit instead (notifyAppended).
    let result: AppendResult;
    if (options.tx) {
      const savepoint = options.savepoint !== false;
      result = await appendToStream(options.tx, streamId, events, options, { savepoint, abortedOnConflict: !savepoint });
    } else {
      result = this.grouping
        ? await this.grouped(streamId, events, options)
        : await this.withOwnClient((client) => appendToStream(client, streamId, events, options));
      this.notifyAppended();
    }
    this.options.onAppended?.(result, events.length, performance.now() - started);
    return result;
  }

  /** An append outside a transaction, written with the others that are waiting (group commit). */
  private grouped(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    // Invalid input fails now, alone (and never reaches a group).
    appendPayload(events, options, new Set<string>());
    expectedKind(options.expectedVersion ?? 'any');
    return this.grouping!.submit({ streamId, events, options, append: { ...options, streamId, events } });
  }

  /**
   * Writes a group of independent appends in one statement (`append_to_streams` with each entry on
   * its own). An entry that conflicts, and every entry of a statement that failed (e.g. two
   * writers racing on one stream), is appended again on its own: that path retries `any`,
   * recognises idempotent replays and reports the actual version.
   */
  private async flushAppends(group: Pending<GroupedAppend, AppendResult>[]): Promise<void> {
    const alone: Pending<GroupedAppend, AppendResult>[] = [];
    if (group.length === 1) alone.push(group[0]);
    else {
      try {
        const call = streamsAppendCall(group.map((p) => p.input.append));
        const rows = await this.withOwnClient(async (client) => {
          const { rows } = await client.query<{ idx: number; outcome: string; current_version: number; first_version: number; last_position: number }>({
            name: 'saga_append_group',
            text: 'select idx, outcome, current_version, first_version, last_position from append_to_streams($1, false)',
            values: [call.payload],
          });
          return rows;
        });
        for (const row of rows) {
          const p = group[row.idx];
          if (row.outcome !== 'ok') alone.push(p);
          else p.resolve({ streamId: p.input.streamId, firstVersion: row.first_version, nextExpectedVersion: row.current_version, globalPosition: row.last_position });
        }
      } catch {
        alone.push(...group);
      }
    }
    await Promise.all(
      alone.map(({ input, resolve, reject }) =>
        this.withOwnClient((client) => appendToStream(client, input.streamId, input.events, input.options)).then(resolve, reject),
      ),
    );
  }

  appendToStreams(appends: StreamAppend[], options: AppendToStreamsOptions = {}): Promise<AppendResult[]> {
    return inAppendSpan(
      'append_to_streams',
      () => ({ 'event_store.stream_count': appends.length, 'event_store.event_count': appends.reduce((n, a) => n + a.events.length, 0) }),
      () => this.appendMany(appends, options),
    );
  }

  private async appendMany(appends: StreamAppend[], options: AppendToStreamsOptions): Promise<AppendResult[]> {
    const started = performance.now();
    const { lock, alongside } = options;
    let results: AppendResult[];
    if (options.tx) results = await appendToStreams(options.tx, appends, { inTransaction: true, lock, alongside });
    else {
      results = await this.withOwnClient((client) => appendToStreams(client, appends, { inTransaction: false, lock, alongside }));
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
      broken = isBrokenConnection(err);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  lockStreams(streamIds: string[], options: { tx: Queryable }): Promise<void> {
    return lockStreams(options.tx, streamIds);
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

  streamHead(streamId: string, options: { tenantId?: string } & TransactionalOptions = {}): Promise<StreamHead> {
    return readStreamHead(options.tx ?? this.pool, streamId, options.tenantId);
  }

  headPosition(): Promise<number> {
    return readHeadPosition(this.pool);
  }

  countEvents(options: { after?: number } & TransactionalOptions = {}): Promise<number> {
    return countEvents(options.tx ?? this.pool, options.after ?? 0);
  }

  async queryWithUnreadCounts<R extends object>(
    sql: (unreadAfter: (position: string) => string) => string,
    values: unknown[] = [],
    options: TransactionalOptions = {},
  ): Promise<R[]> {
    const db: Queryable = options.tx ?? this.pool;
    const { rows } = await db.query<R>(sql(unreadAfterSql), values);
    return rows;
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

  transaction<T>(fn: (tx: PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, fn);
  }
}
