import { Kysely, PostgresDialect } from 'kysely';
import { Pool } from 'pg';
import { EventsTable, SnapshotsTable } from './tables/events.table';

/** Every table the platform's Kysely code touches. Libraries extend it as their tables land. */
export interface Database {
  events: EventsTable;
  snapshots: SnapshotsTable;
  schema_migrations: { name: string; applied_at: Date };
}

export function createKysely<DB = Database>(pool: Pool): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}
