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
} from './event-store.types';
import { SubscribeOptions, Subscription } from './postgres/subscribe';
import { StreamsAppendCall } from './postgres/append-to-streams';

export interface TransactionalOptions {
  /** Run inside the caller's transaction (a client after BEGIN). */
  tx?: PoolClient;
  /**
   * With `tx`: guard the append with a savepoint (default true), so that a conflict leaves the
   * transaction usable and idempotent replays are recognised. Without, a conflict aborts the
   * transaction and is reported as WRONG_EXPECTED_VERSION: for callers that retry it whole.
   */
  savepoint?: boolean;
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
  appendToStreams(appends: StreamAppend[], options?: TransactionalOptions): Promise<AppendResult[]>;
  /**
   * `appendToStreams` made ready for a caller that runs it inside a statement of its own (e.g. with
   * other writes, atomically): its payload, how to read its rows (reported to the store's append
   * metrics like any append) and how to turn a failure into the store's errors.
   */
  streamsAppendCall(appends: StreamAppend[]): StreamsAppendCall;
  /** Events are upcast to their current shape. */
  readStream(streamId: string, options?: ReadStreamOptions & TransactionalOptions): Promise<ReadStreamResult>;
  /** Several whole (short) streams in one read, upcast; streams without events are absent. */
  readStreams(streamIds: string[], options?: TransactionalOptions): Promise<Map<string, RecordedEvent[]>>;
  /** The global log, gap-safe, in position order. */
  readAll(options?: ReadAllOptions & TransactionalOptions): Promise<ReadAllResult>;
  headPosition(): Promise<number>;
  subscribe(options: SubscribeOptions): Subscription;
  readSnapshot<S>(streamId: string, schemaVersion: number, options?: TransactionalOptions): Promise<Snapshot<S> | undefined>;
  storeSnapshot(snapshot: Snapshot, options?: TransactionalOptions): Promise<void>;
  /** Wakes subscribers after appends made inside a caller's transaction have committed. */
  notifyAppended(): void;
  /** Runs `fn` in one transaction; appends given `{ tx }` commit or roll back together. */
  transaction<T>(fn: (tx: PoolClient) => Promise<T>): Promise<T>;
}
