import { BenchEvent, CounterState } from '../harness/payload';

/**
 * What the event-store workloads (W1–W5) need from a system, with one version convention for all:
 * versions are 0-based (the version of a stream is that of its last event, -1 when it has none).
 * Adapters map to each system's own API (Emmett counts stream positions from 1).
 */
export interface EventStoreAdapter {
  readonly system: string;
  /** Appends `events` atomically to a stream that must not exist yet (`no_stream`). */
  appendNew(streamId: string, events: BenchEvent[]): Promise<void>;
  /** Appends with an exact expected version (-1 = no stream); the new version, or 'conflict'. */
  appendExpected(streamId: string, events: BenchEvent[], expectedVersion: number): Promise<number | 'conflict'>;
  /** Reads the events after `afterVersion` (a writer catching up after a conflict); the stream's version. */
  readAfter(streamId: string, afterVersion: number): Promise<number>;
  /** Reads a whole stream (up to 10,000 events), in version order. */
  readWhole(streamId: string): Promise<unknown[]>;
  /** W5; absent when the system has no aggregate loading of its own. */
  aggregates?: AggregateSupport;
  close(): Promise<void>;
}

export interface AggregateSupport {
  snapshots: boolean;
  /** Builds the aggregate's stream (`count` events) the way the system would in production. */
  prepare(id: string, count: number, onProgress: (done: number) => void): Promise<{ snapshotVersion?: number }>;
  load(id: string, useSnapshots: boolean): Promise<{ state: CounterState; version: number; fromSnapshot: boolean }>;
}

export type OpenEventStore = (url: string, poolSize: number) => Promise<EventStoreAdapter>;
