import { Queryable } from '@app/event-store';
import { ProjectionStatus } from './projection';

export interface CheckpointRow {
  name: string;
  position: number;
  status: ProjectionStatus;
  last_error: string | null;
  failed_position: number | null;
  rebuild_requested: boolean;
  rebuild_position: number | null;
  rebuild_started_at: Date | null;
  rebuilt_at: Date | null;
  updated_at: Date;
}

export async function ensureCheckpoint(db: Queryable, name: string): Promise<void> {
  await db.query('insert into projection_checkpoints (name) values ($1) on conflict (name) do nothing', [name]);
}

export async function readCheckpoint(db: Queryable, name: string, forUpdate = false): Promise<CheckpointRow | undefined> {
  const { rows } = await db.query<CheckpointRow>(
    `select * from projection_checkpoints where name = $1${forUpdate ? ' for update' : ''}`,
    [name],
  );
  return rows[0];
}

export async function storeCheckpoint(db: Queryable, name: string, position: number, status: ProjectionStatus): Promise<void> {
  await db.query(
    `update projection_checkpoints
        set position = $2, status = $3, last_error = null, failed_position = null, updated_at = now()
      where name = $1`,
    [name, position, status],
  );
}

export async function markFailed(db: Queryable, name: string, error: string, failedPosition: number): Promise<void> {
  await db.query(
    `update projection_checkpoints set status = 'FAILED', last_error = $2, failed_position = $3, updated_at = now() where name = $1`,
    [name, error, failedPosition],
  );
}

export async function setStatus(db: Queryable, name: string, status: ProjectionStatus): Promise<void> {
  await db.query(
    `update projection_checkpoints set status = $2, updated_at = now() where name = $1 and status <> $2 and status <> 'REBUILDING'`,
    [name, status],
  );
}

/** Asks the active instance to rebuild `name` from zero; it shows as REBUILDING at once. */
export async function requestRebuild(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `update projection_checkpoints
        set rebuild_requested = true, status = 'REBUILDING', rebuild_position = 0,
            rebuild_started_at = now(), updated_at = now()
      where name = $1`,
    [name],
  );
  return (rowCount ?? 0) > 0;
}
