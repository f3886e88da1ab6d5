import { ColumnType, Insertable, Selectable } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export interface EventsTable {
  /** (transaction id << 16) + sequence inside the transaction: see migrations/001_event_store.sql. */
  global_position: ColumnType<number, never, never>;
  event_id: string;
  stream_id: string;
  category: string;
  version: number;
  type: string;
  schema_version: number;
  data: Json;
  metadata: Json;
  tenant_id: string;
  recorded_at: ColumnType<Date, never, never>;
}
export type EventRow = Selectable<EventsTable>;
export type NewEventRow = Insertable<EventsTable>;

export interface SnapshotsTable {
  stream_id: string;
  schema_version: number;
  version: number;
  state: Json;
  created_at: ColumnType<Date, never, never>;
}
export type SnapshotRow = Selectable<SnapshotsTable>;
