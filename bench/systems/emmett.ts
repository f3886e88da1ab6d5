import { Pool } from 'pg';
import { STREAM_DOES_NOT_EXIST, isExpectedVersionConflictError } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { BenchEvent, CounterState, benchEvent, counterEvolve, counterInitialState } from '../harness/payload';
import { EventStoreAdapter } from './adapter';

const PREPARE_BATCH = 100;

/**
 * Emmett's PostgreSQL event store on its own pool (same size as ours), schema created by Emmett's
 * own migrations. Emmett stream positions are 1-based: our version v is its position v + 1.
 */
export async function openEmmett(url: string, poolSize: number): Promise<EventStoreAdapter> {
  const pool = new Pool({ connectionString: url, max: poolSize });
  pool.on('error', (err) => process.emitWarning(`emmett pool: idle client error: ${err.message}`));
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  try {
    await store.schema.migrate();
  } catch (err) {
    await pool.end();
    throw err;
  }

  return {
    system: 'emmett',
    async appendNew(streamId, events) {
      await store.appendToStream<BenchEvent>(streamId, events, { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
    },
    async appendExpected(streamId, events, expectedVersion) {
      try {
        const r = await store.appendToStream<BenchEvent>(streamId, events, {
          expectedStreamVersion: expectedVersion < 0 ? STREAM_DOES_NOT_EXIST : BigInt(expectedVersion + 1),
        });
        return Number(r.nextExpectedStreamVersion) - 1;
      } catch (err) {
        if (isExpectedVersionConflictError(err)) return 'conflict';
        throw err;
      }
    },
    async readAfter(streamId, afterVersion) {
      const r = await store.readStream<BenchEvent>(streamId, { from: BigInt(afterVersion + 2) });
      return r.events.length ? Number(r.currentStreamVersion) - 1 : afterVersion;
    },
    async readWhole(streamId) {
      return (await store.readStream<BenchEvent>(streamId)).events;
    },
    aggregates: {
      snapshots: false,
      async prepare(id, count, onProgress) {
        const streamId = `counter-${id}`;
        for (let done = 0; done < count; ) {
          const n = Math.min(PREPARE_BATCH, count - done);
          const events = Array.from({ length: n }, (_, k) => benchEvent(done + k));
          await store.appendToStream<BenchEvent>(streamId, events, {
            expectedStreamVersion: done === 0 ? STREAM_DOES_NOT_EXIST : BigInt(done),
          });
          done += n;
          onProgress(done);
        }
        return {};
      },
      async load(id) {
        // Emmett has no snapshots: aggregateStream reads and folds the whole stream.
        const r = await store.aggregateStream<CounterState, BenchEvent>(`counter-${id}`, {
          evolve: counterEvolve,
          initialState: counterInitialState,
        });
        return { state: r.state, version: Number(r.currentStreamVersion) - 1, fromSnapshot: false };
      },
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
