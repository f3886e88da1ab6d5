import { PoolClient } from 'pg';
import {
  AppendOptions,
  AppendResult,
  NewEvent,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  Snapshot,
  StreamAppend,
  StreamHead,
} from './event-store.types';
import { SubscribeOptions, Subscription } from './postgres/subscribe';
import { AlongsideWrites } from './postgres/append-to-streams';
import { Queryable } from './postgres/queryable';

export interface TransactionalOptions {
  /** Run on the caller's connection: inside its transaction (a client after BEGIN). */
  tx?: Queryable;
  /**
   * With `tx`: guard the append with a savepoint (default true), so that a conflict leaves the
   * transaction usable and idempotent replays are recognised. Without, a conflict aborts the
   * transaction and is reported as WRONG_EXPECTED_VERSION: for callers that retry it whole.
   */
  savepoint?: boolean;
}

export interface AppendToStreamsOptions extends TransactionalOptions {
  /**
   * Streams to lock for the rest of the transaction before any version is read (see `lockStreams`):
   * a writer that locks the streams it read cannot be overtaken before its append.
   */
  lock?: string[];
  /**
   * The caller's own writes, in the SAME statement, after the append: atomic without a transaction
   * (e.g. a group commit that moves pending-work rows of the sagas it appends to).
   */
  alongside?: AlongsideWrites;
}

/** The event store port: the single source of truth of the platform. */
export interface EventStore {
  /** Atomic, idempotent by event id; throws EventStoreError WRONG_EXPECTED_VERSION / DUPLICATE_EVENT_ID. */
  appendToStream(streamId: string, events: NewEvent[], options: AppendOptions & TransactionalOptions): Promise<AppendResult>;
  /**
   * Several streams in one atomic statement (all or nothing), each with its own expected version;
   * a conflict anywhere throws WRONG_EXPECTED_VERSION for that stream (no idempotent-replay check).
   * Inside `tx` a failure aborts the transaction.
   */
  appendToStreams(appends: StreamAppend[], options?: AppendToStreamsOptions): Promise<AppendResult[]>;
  /**
   * Locks streams until the end of the transaction `tx`, in a fixed order (no deadlocks): every
   * writer of those streams that takes the same locks before reading them is serialised with it.
   */
  lockStreams(streamIds: string[], options: { tx: Queryable }): Promise<void>;
  /** Events are upcast to their current shape. */
  readStream(streamId: string, options?: ReadStreamOptions & TransactionalOptions): Promise<ReadStreamResult>;
  /** Several whole (short) streams in one read, upcast; streams without events are absent. */
  readStreams(streamIds: string[], options?: TransactionalOptions): Promise<Map<string, RecordedEvent[]>>;
  /**
   * A stream's last version (-1: no events), and whether it holds events of a tenant other than
   * `tenantId` (never, without one): one cheap read, e.g. to check ownership around an append.
   */
  streamHead(streamId: string, options?: { tenantId?: string } & TransactionalOptions): Promise<StreamHead>;
  /** The global log, gap-safe, in position order. */
  readAll(options?: ReadAllOptions & TransactionalOptions): Promise<ReadAllResult>;
  /** Position of the last safely readable event (0: none). */
  headPosition(): Promise<number>;
  /** How many events after `after` (default: from the start) are safely readable now. */
  countEvents(options?: { after?: number } & TransactionalOptions): Promise<number>;
  /**
   * Runs one query of the caller's (over its own tables) that counts, per row, the events a reader
   * at some position has still to read: e.g. each projection's lag, in one statement. `sql` builds
   * it, putting `unreadAfter(position)` (an SQL expression; `position` is one of the query) where
   * the count goes.
   */
  queryWithUnreadCounts<R extends object>(
    sql: (unreadAfter: (position: string) => string) => string,
    values?: unknown[],
    options?: TransactionalOptions,
  ): Promise<R[]>;
  subscribe(options: SubscribeOptions): Subscription;
  readSnapshot<S>(streamId: string, schemaVersion: number, options?: TransactionalOptions): Promise<Snapshot<S> | undefined>;
  storeSnapshot(snapshot: Snapshot, options?: TransactionalOptions): Promise<void>;
  /** Wakes subscribers after appends made inside a caller's transaction have committed. */
  notifyAppended(): void;
  /**
   * Runs `fn` in one transaction; appends given `{ tx }` commit or roll back together. (`tx` is a
   * pg PoolClient because callers pass it on to their own SQL typed so.)
   */
  transaction<T>(fn: (tx: PoolClient) => Promise<T>): Promise<T>;
}
