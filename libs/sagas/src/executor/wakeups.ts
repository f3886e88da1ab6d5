import { Pool, PoolClient } from 'pg';

/** The NOTIFY channel on which workers learn that sagas wait (a start, an operator action). */
export const SAGA_WORK_CHANNEL = 'saga_work';
const RELISTEN_EVERY_MS = 5000;

/**
 * Wake-ups between processes over PostgreSQL LISTEN/NOTIFY: they only make workers look for due
 * work sooner; polling alone stays correct (the embedded PGlite has one session for everything).
 */
export class SagaWakeups {
  private listener?: PoolClient;
  private lastListenAttempt = 0;
  private relistening = false;
  private notifyTimer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly onWake: () => void,
  ) {}

  /** LISTENs on a dedicated connection; each notification calls `onWake`. */
  async listen(): Promise<void> {
    this.lastListenAttempt = Date.now();
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const mine = client;
      mine.on('notification', () => this.onWake());
      mine.on('error', () => {
        if (this.listener !== mine) return; // released by unlisten: the pool owns it now
        this.listener = undefined;
        mine.release(true);
      });
      await mine.query(`listen ${SAGA_WORK_CHANNEL}`);
      this.listener = mine;
    } catch {
      // Polling alone stays correct; the connection (if any) goes back broken, not leaked.
      if (client && this.listener !== client) client.release(true);
    }
  }

  /**
   * Listens again after the listening connection was lost (a database restart, a partition), at
   * most every few seconds: wake-ups come back without restarting the worker.
   */
  relisten(): void {
    if (this.listener || this.relistening || Date.now() - this.lastListenAttempt < RELISTEN_EVERY_MS) return;
    this.relistening = true;
    void this.listen().finally(() => (this.relistening = false));
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
