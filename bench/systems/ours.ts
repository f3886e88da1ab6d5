import { AggregateRepository, AggregateType, PostgresEventStore, isEventStoreError } from '@app/event-store';
import { BenchEvent, CounterState, TENANT, benchEvent, counterEvolve, counterInitialState } from '../harness/payload';
import { EventStoreAdapter } from './adapter';
import { openMigratedPool } from './our-database';

const READ_LIMIT = 10_000;
const SNAPSHOT_EVERY = 100;
const PREPARE_BATCH = 100;

const counterType: AggregateType<CounterState, { events: BenchEvent[] }, BenchEvent> = {
  category: 'counter',
  decider: {
    initialState: counterInitialState,
    evolve: counterEvolve,
    decide: (command) => command.events,
  },
  snapshot: { every: SNAPSHOT_EVERY, schemaVersion: 1 },
};

/** Our event store: @app/event-store on a database migrated by our migrator. */
export async function openOurs(url: string, poolSize: number, options: { notify: boolean; system: string }): Promise<EventStoreAdapter> {
  const pool = await openMigratedPool(url, poolSize);
  const store = new PostgresEventStore(pool, { notify: options.notify });
  const repository = new AggregateRepository(store);

  return {
    system: options.system,
    async appendNew(streamId, events) {
      await store.appendToStream(streamId, events, { expectedVersion: 'no_stream', tenantId: TENANT });
    },
    async appendExpected(streamId, events, expectedVersion) {
      try {
        const r = await store.appendToStream(streamId, events, {
          expectedVersion: expectedVersion < 0 ? 'no_stream' : expectedVersion,
          tenantId: TENANT,
        });
        return r.nextExpectedVersion;
      } catch (err) {
        if (isEventStoreError(err, 'WRONG_EXPECTED_VERSION')) return 'conflict';
        throw err;
      }
    },
    async readAfter(streamId, afterVersion) {
      const r = await store.readStream(streamId, { fromVersion: afterVersion + 1, limit: READ_LIMIT });
      return r.version;
    },
    async readWhole(streamId) {
      return (await store.readStream(streamId, { limit: READ_LIMIT })).events;
    },
    aggregates: {
      snapshots: true,
      async prepare(id, count, onProgress) {
        // The production path: AggregateRepository.handle, which snapshots every 100 events.
        for (let done = 0; done < count; ) {
          const n = Math.min(PREPARE_BATCH, count - done);
          const events = Array.from({ length: n }, (_, k) => benchEvent(done + k));
          await repository.handle(counterType, id, { events }, { tenantId: TENANT });
          done += n;
          onProgress(done);
        }
        const snap = await store.readSnapshot(repository.streamId(counterType, id), 1);
        return { snapshotVersion: snap?.version };
      },
      async load(id, useSnapshots) {
        const r = await repository.load(counterType, id, { useSnapshots });
        return { state: r.state, version: r.version, fromSnapshot: r.fromSnapshot };
      },
    },
    async close() {
      await pool.end();
    },
  };
}
