import { Pool } from 'pg';
import { createTestDatabase, dropTestDatabase, TestDatabase } from '@app/database';
import { PostgresEventStore } from '@app/event-store';
import { ProjectionRunner } from '../projection-runner';
import { APPLIED_EVENTS_DDL } from './applied-log';

export interface AppliedLogDatabase {
  tdb: TestDatabase;
  store: PostgresEventStore;
  /** Stopped after the spec's tests, before the database is dropped. */
  runners: ProjectionRunner[];
  /** Extra pools on the database, ended before it is dropped. */
  pools: Pool[];
}

/**
 * A database of the spec file's own with the `applied_events` log and a store on it, created before
 * its tests. After them: the `runners` stop, then `beforeDrop` (e.g. killing child processes), then
 * the pools end and the database is dropped.
 */
export function useAppliedLogDatabase(options: { poolSize: number; beforeDrop?: () => Promise<unknown> }): AppliedLogDatabase {
  const db = { runners: [], pools: [] } as unknown as AppliedLogDatabase;
  beforeAll(async () => {
    db.tdb = await createTestDatabase({ poolSize: options.poolSize });
    db.store = new PostgresEventStore(db.tdb.pool);
    await db.tdb.pool.query(APPLIED_EVENTS_DDL);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(db.runners.map((r) => r.stop()));
    await options.beforeDrop?.();
    await dropTestDatabase(db.tdb, db.pools);
  }, 60_000);
  return db;
}
