import { Pool, PoolClient } from 'pg';

/** The NOTIFY channel on which workers learn that sagas wait (a start, an operator action). */
export const SAGA_WORK_CHANNEL = 'saga_work';

/**
 * Wake-ups between processes over PostgreSQL LISTEN/NOTIFY: they only make workers look for due
 * work sooner; polling alone stays correct (the embedded PGlite has one session for everything).
 */
export class SagaWakeups {
  private listener?: PoolClient;
  private notifyTimer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly onWake: () => void,
  ) {}

  /** LISTENs on a dedicated connection; each notification calls `onWake`. */
  async listen(): Promise<void> {
    try {
      const client = await this.pool.connect();
      client.on('notification', () => this.onWake());
      client.on('error', () => {
        if (this.listener !== client) return; // released by unlisten: the pool owns it now
        this.listener = undefined;
        client.release(true);
      });
      await client.query(`listen ${SAGA_WORK_CHANNEL}`);
      this.listener = client;
    } catch {
      // Polling alone stays correct.
    }
  }

  async unlisten(): Promise<void> {
    if (!this.listener) return;
    const l = this.listener;
    this.listener = undefined;
    l.removeAllListeners('notification');
    await l.query(`unlisten ${SAGA_WORK_CHANNEL}`).catch(() => undefined);
    l.release();
  }

  /** Tells other processes' workers that work waits, now. */
  notify(): Promise<void> {
    return this.pool.query(`select pg_notify('${SAGA_WORK_CHANNEL}', '')`).then(
      () => undefined,
      () => undefined,
    );
  }

  /** The same, coalesced to one NOTIFY per few milliseconds (group commits of new sagas). */
  notifySoon(): void {
    if (this.notifyTimer) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      void this.notify();
    }, 2);
    this.notifyTimer.unref();
  }
}
