import { Snapshot } from '../event-store.types';
import { Queryable } from './queryable';

/** The newest snapshot of a stream for one state schema version, if any. */
export async function readSnapshot<S>(db: Queryable, streamId: string, schemaVersion: number): Promise<Snapshot<S> | undefined> {
  const { rows } = await db.query({
    name: 'saga_read_snapshot',
    text: 'select version, state from snapshots where stream_id = $1 and schema_version = $2',
    values: [streamId, schemaVersion],
  });
  return rows[0] ? { streamId, schemaVersion, version: rows[0].version, state: rows[0].state as S } : undefined;
}

/** Stores a snapshot; an older one never replaces a newer one. */
export async function storeSnapshot(db: Queryable, snapshot: Snapshot): Promise<void> {
  await db.query({
    name: 'saga_store_snapshot',
    text: `insert into snapshots (stream_id, schema_version, version, state) values ($1, $2, $3, $4)
           on conflict (stream_id, schema_version) do update
             set version = excluded.version, state = excluded.state, created_at = now()
             where snapshots.version < excluded.version`,
    values: [snapshot.streamId, snapshot.schemaVersion, snapshot.version, JSON.stringify(snapshot.state)],
  });
}

export async function deleteSnapshots(db: Queryable, streamId?: string): Promise<void> {
  if (streamId === undefined) await db.query('delete from snapshots');
  else await db.query('delete from snapshots where stream_id = $1', [streamId]);
}
