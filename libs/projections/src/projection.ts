import { PoolClient } from 'pg';
import { RecordedEvent } from '@app/event-store';

export type ProjectionMode = 'inline' | 'async';
export type ProjectionStatus = 'LIVE' | 'CATCHING_UP' | 'REBUILDING' | 'FAILED';

export interface ProjectionContext {
  /** A client inside the projection's transaction (the checkpoint is written in it too). */
  tx: PoolClient;
}

/**
 * A projection: the event types it reads and a handler that writes its read-model tables with the
 * transaction it is given. Handlers get whole batches so they can write many rows per statement.
 */
export interface Projection {
  name: string;
  /** Read-model tables (schema public) it owns; a rebuild recreates exactly these. */
  tables: string[];
  /** Event types it handles; the checkpoint still moves past the others. */
  eventTypes: string[];
  /** `inline`: applied in the append's transaction by InlineProjector; `async`: by the runner. */
  mode?: ProjectionMode;
  handle(events: RecordedEvent[], ctx: ProjectionContext): Promise<void>;
  /**
   * Called by the active instance when it has caught up with the log (at most once per poll), in a
   * transaction of its own: for projections whose output can be lost outside PostgreSQL (a broker).
   */
  onIdle?(ctx: ProjectionContext & { position: number }): Promise<void>;
}

export interface ProjectionStatusView {
  name: string;
  position: number;
  lag: number;
  status: ProjectionStatus;
  lastError?: string;
  rebuild?: { position: number; startedAt?: string };
}
