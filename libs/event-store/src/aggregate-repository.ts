import { PoolClient } from 'pg';
import { isEventStoreError } from './event-store.errors';
import { EventStore } from './event-store.port';
import { EventMetadata, RecordedEvent, StreamAppend } from './event-store.types';
import { eventIdFor } from './deterministic-id';

/** The pure decider of an aggregate (same shape as libs/domain's Decider). */
export interface AggregateDecider<State, Command, Event extends { type: string; data: unknown }> {
  initialState(): State;
  evolve(state: State, event: Event): State;
  decide(command: Command, state: State): Event[];
}

export interface AggregateType<State, Command, Event extends { type: string; data: unknown }> {
  /** Stream category, e.g. `agent`: streams are `<category>-<id>`. */
  category: string;
  decider: AggregateDecider<State, Command, Event>;
  /** Snapshot every N events; bump `schemaVersion` when the state's shape changes. */
  snapshot?: { every: number; schemaVersion: number };
}

export interface LoadedAggregate<State> {
  streamId: string;
  state: State;
  /** Version of the last event folded, -1 for a new stream. */
  version: number;
  /** Whether a snapshot was used. */
  fromSnapshot: boolean;
}

export interface HandleOptions {
  tenantId: string;
  metadata?: Partial<EventMetadata>;
  /** Deterministic command id: event ids derive from it, so retries never duplicate events. */
  commandId?: string;
  tx?: PoolClient;
  maxRetries?: number;
}

export interface HandleResult<State, Event> {
  events: Event[];
  state: State;
  version: number;
}

/** One aggregate's commands in a `prepareAll` batch. */
export interface PrepareRequest {
  type: AggregateType<any, any, any>;
  id: string;
  commands: unknown[];
  options: Omit<HandleOptions, 'tx' | 'maxRetries'>;
  /** Decide nothing when the aggregate has no events yet. */
  ifExists?: boolean;
}

const PAGE = 1000;

/** Loads aggregates (snapshot + tail), decides, and appends with the expected version. */
export class AggregateRepository {
  constructor(private readonly store: EventStore) {}

  streamId(type: { category: string }, id: string): string {
    return `${type.category}-${id}`;
  }

  /** State at the stream's end, or at `atVersion` (inclusive) when given. */
  async load<S, C, E extends { type: string; data: unknown }>(
    type: AggregateType<S, C, E>,
    id: string,
    options: { atVersion?: number; tx?: PoolClient; useSnapshots?: boolean } = {},
  ): Promise<LoadedAggregate<S>> {
    const streamId = this.streamId(type, id);
    let state = type.decider.initialState();
    let version = -1;
    let fromSnapshot = false;
    if (type.snapshot && options.useSnapshots !== false) {
      const snap = await this.store.readSnapshot<S>(streamId, type.snapshot.schemaVersion, { tx: options.tx });
      if (snap && (options.atVersion === undefined || snap.version <= options.atVersion)) {
        state = snap.state;
        version = snap.version;
        fromSnapshot = true;
      }
    }
    for (;;) {
      const remaining = options.atVersion === undefined ? PAGE : Math.min(PAGE, options.atVersion - version);
      if (remaining <= 0) break;
      const page = await this.store.readStream(streamId, { fromVersion: version + 1, limit: remaining, tx: options.tx });
      for (const e of page.events) state = type.decider.evolve(state, toDomainEvent<E>(e));
      if (page.events.length) version = page.events[page.events.length - 1].version;
      if (page.events.length < remaining) break;
    }
    return { streamId, state, version, fromSnapshot };
  }

  /** See `prepareAll`: decides groups of commands against one read, without writing. */
  prepareAll(groups: PrepareRequest[][], options: { tx?: PoolClient } = {}): Promise<(PreparedGroup | Error)[]> {
    return prepareAll(this.store, groups, options);
  }

  /**
   * Loads, decides and appends with the loaded version as the expected one; on a version conflict
   * loads again and decides again. Domain errors thrown by `decide` propagate unchanged.
   */
  async handle<S, C, E extends { type: string; data: unknown }>(
    type: AggregateType<S, C, E>,
    id: string,
    command: C,
    options: HandleOptions,
  ): Promise<HandleResult<S, E>> {
    return this.handleAll(type, id, [command], options);
  }

  /**
   * Several commands on one aggregate as one decision: each is decided on the state the previous
   * ones produced, and all their events are appended together (one round trip, one version check).
   */
  async handleAll<S, C, E extends { type: string; data: unknown }>(
    type: AggregateType<S, C, E>,
    id: string,
    commands: C[],
    options: HandleOptions,
  ): Promise<HandleResult<S, E>> {
    const maxRetries = options.maxRetries ?? 10;
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.load(type, id, { tx: options.tx });
      const events: E[] = [];
      let decided = loaded.state;
      for (const command of commands) {
        const produced = type.decider.decide(command, decided);
        for (const e of produced) decided = type.decider.evolve(decided, e);
        events.push(...produced);
      }
      if (events.length === 0) return { events, state: loaded.state, version: loaded.version };
      try {
        const result = await this.store.appendToStream(
          loaded.streamId,
          events.map((e, i) => ({
            eventId: options.commandId ? eventIdFor(options.commandId, i) : undefined,
            type: e.type,
            data: e.data,
          })),
          { expectedVersion: loaded.version, tenantId: options.tenantId, metadata: options.metadata, tx: options.tx },
        );
        if (result.nextExpectedVersion <= loaded.version) {
          // An idempotent replay (same command id): these events were already folded in.
          return { events: [], state: loaded.state, version: loaded.version };
        }
        const state = decided;
        const newVersion = result.nextExpectedVersion;
        if (type.snapshot && crossesBoundary(loaded.version, newVersion, type.snapshot.every)) {
          await this.store.storeSnapshot(
            { streamId: loaded.streamId, version: newVersion, schemaVersion: type.snapshot.schemaVersion, state },
            { tx: options.tx },
          );
        }
        return { events, state, version: newVersion };
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || attempt >= maxRetries) throw err;
      }
    }
  }
}

export interface PreparedGroup {
  appends: StreamAppend[];
}

/**
 * Decides groups of commands against ONE read of all the streams they address, without writing:
 * each group's result is the appends to make (expected versions chained when several groups touch
 * one stream, in group order), or the error its decision threw. A group is all or nothing: a
 * failing group leaves no trace in the state later groups decide on. For callers that commit the
 * appends together with other writes (`appendToStreams`) and retry one by one with `handleAll` on a
 * conflict. Snapshotted types are refused (`handleAll` keeps their snapshots up to date).
 */
export async function prepareAll(
  store: EventStore,
  groups: PrepareRequest[][],
  options: { tx?: PoolClient } = {},
): Promise<(PreparedGroup | Error)[]> {
  const streamOf = (r: PrepareRequest) => `${r.type.category}-${r.id}`;
  // Groups with a snapshotted type are refused below: their (possibly long) streams are not read.
  const readable = groups.filter((g) => !g.some((r) => r.type.snapshot));
  const streams = await store.readStreams(readable.flat().map(streamOf), { tx: options.tx });
  const current = new Map<string, { state: unknown; version: number }>();
  const stateOf = (r: PrepareRequest) => {
    const id = streamOf(r);
    let loaded = current.get(id);
    if (!loaded) {
      let state = r.type.decider.initialState();
      const events = streams.get(id) ?? [];
      for (const e of events) state = r.type.decider.evolve(state, toDomainEvent(e));
      loaded = { state, version: events.length ? events[events.length - 1].version : -1 };
      current.set(id, loaded);
    }
    return loaded;
  };
  return groups.map((group) => {
    const snapshotted = group.find((r) => r.type.snapshot);
    if (snapshotted) return new Error(`prepareAll: ${snapshotted.type.category} is snapshotted; use handleAll`);
    const overlay = new Map<string, { state: unknown; version: number }>();
    const appends: StreamAppend[] = [];
    try {
      for (const r of group) {
        const streamId = streamOf(r);
        const loaded = overlay.get(streamId) ?? stateOf(r);
        if (r.ifExists && loaded.version < 0) continue;
        let decided = loaded.state;
        const events: { type: string; data: unknown }[] = [];
        for (const command of r.commands) {
          const produced = r.type.decider.decide(command, decided);
          for (const e of produced) decided = r.type.decider.evolve(decided, e);
          events.push(...produced);
        }
        if (events.length === 0) continue;
        appends.push({
          streamId,
          expectedVersion: loaded.version,
          tenantId: r.options.tenantId,
          metadata: r.options.metadata,
          events: events.map((e, i) => ({ eventId: r.options.commandId ? eventIdFor(r.options.commandId, i) : undefined, type: e.type, data: e.data })),
        });
        overlay.set(streamId, { state: decided, version: loaded.version + events.length });
      }
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
    for (const [id, v] of overlay) current.set(id, v);
    return { appends };
  });
}

function crossesBoundary(from: number, to: number, every: number): boolean {
  return every > 0 && Math.floor((to + 1) / every) > Math.floor((from + 1) / every);
}

function toDomainEvent<E>(e: RecordedEvent): E {
  return { type: e.type, data: e.data } as E;
}
