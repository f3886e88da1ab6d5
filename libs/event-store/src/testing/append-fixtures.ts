/** Fixtures and checks shared by the append integration specs (not part of the public API). */
import { randomUUID } from 'crypto';
import { Pool } from 'pg';
import { createTestDatabase, TestDatabase } from '@app/database';
import { PostgresEventStore } from '../postgres/postgres-event-store';
import { EventStoreError } from '../event-store.errors';
import { NewEvent, Upcaster } from '../event-store.types';

export const newStream = (category = 'order') => `${category}-${randomUUID()}`;
export const event = (n: number, eventId: string = randomUUID()): NewEvent => ({ eventId, type: 'ThingHappened', data: { n } });
export const events = (count: number, from = 0) => Array.from({ length: count }, (_, i) => event(from + i));

/** Upcasts `type` from v1 `{ name: 'first last' }` to v2 `{ first, last }`. */
export const splitNameUpcaster = (type: string): Upcaster => ({
  type,
  fromSchemaVersion: 1,
  toSchemaVersion: 2,
  upcast: (data) => {
    const [first, ...rest] = (data as { name: string }).name.split(' ');
    return { first, last: rest.join(' ') };
  },
});

/** The rejection of `promise`, which must be an EventStoreError. */
export async function rejectionOf(promise: Promise<unknown>): Promise<EventStoreError> {
  let outcome: unknown;
  try {
    await promise;
  } catch (err) {
    outcome = err;
  }
  if (!(outcome instanceof EventStoreError)) throw new Error(`expected an EventStoreError, got ${String(outcome)}`);
  return outcome;
}

/** An EventStoreError as its code and details; anything else as its message, to show in a failure. */
export function describeError(err: unknown): unknown {
  return err instanceof EventStoreError ? { code: err.code, details: err.details } : { unexpected: String(err) };
}

/** What the `events` table holds, read directly (not through the store under test). */
export function storedEvents(pool: Pool) {
  return {
    async versions(streamId: string): Promise<number[]> {
      const { rows } = await pool.query('select version from events where stream_id = $1 order by version', [streamId]);
      return rows.map((r) => r.version);
    },
    async eventIds(streamId: string): Promise<string[]> {
      const { rows } = await pool.query('select event_id from events where stream_id = $1 order by version', [streamId]);
      return rows.map((r) => r.event_id);
    },
    async countIds(eventIds: string[]): Promise<number> {
      const { rows } = await pool.query('select count(*)::int as n from events where event_id = any($1::uuid[])', [eventIds]);
      return rows[0].n;
    },
  };
}

/**
 * A fresh database and a store on it for a spec file (created before its tests, dropped after),
 * with direct reads of the `events` table.
 */
export function useStoreDatabase(options: { poolSize?: number } = {}) {
  const db = {} as { tdb: TestDatabase; store: PostgresEventStore };
  beforeAll(async () => {
    db.tdb = await createTestDatabase(options);
    db.store = new PostgresEventStore(db.tdb.pool);
  });
  afterAll(async () => {
    await db.tdb?.drop();
  });
  const stored = () => storedEvents(db.tdb.pool);
  return Object.assign(db, {
    storedVersions: (streamId: string) => stored().versions(streamId),
    storedEventIds: (streamId: string) => stored().eventIds(streamId),
    countStored: (eventIds: string[]) => stored().countIds(eventIds),
  });
}
