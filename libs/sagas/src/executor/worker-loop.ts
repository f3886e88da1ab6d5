import { setMaxListeners } from 'events';
import { WakeableSleep, failureBackoffMs } from '@app/event-store';
import { ExecutorContext, Loaded } from './executor.types';
import { loadSagas } from './load';
import { claimDueWork, releaseAllLeases, renewLeases } from './postgres/saga-work';
import { SagaWakeups } from './wakeups';

/**
 * The worker's claim loop: claims due sagas (FOR UPDATE SKIP LOCKED, under a lease renewed while
 * they are processed) up to its concurrency, hands each to `process`, and sleeps until a wake-up
 * or the poll interval when there is nothing to claim.
 */
export class WorkerLoop {
  private readonly concurrency: number;
  private readonly active = new Map<string, Promise<void>>();
  private shutdown = new AbortController();
  private stopped = true;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private readonly pause = new WakeableSleep();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly wakeups: SagaWakeups,
    private readonly process: (sagaId: string, preloaded?: Loaded) => Promise<void>,
  ) {
    setMaxListeners(0, this.shutdown.signal); // every in-flight effect listens for shutdown
    this.concurrency = ctx.options.concurrency ?? 32;
  }

  /** Aborted when the worker stops: in-flight effects are interrupted (they resume elsewhere). */
  get signal(): AbortSignal {
    return this.shutdown.signal;
  }

  get inFlight(): number {
    return this.active.size;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.pause.reset();
    if (this.shutdown.signal.aborted) {
      // Started again after stop(): a fresh signal (the old one stays aborted).
      this.shutdown = new AbortController();
      setMaxListeners(0, this.shutdown.signal);
    }
    if (this.ctx.options.listen !== false) await this.wakeups.listen();
    const { pool, workerId, leaseMs } = this.ctx;
    this.heartbeat = setInterval(() => {
      renewLeases(pool, workerId, [...this.active.keys()], leaseMs).catch((err) =>
        this.ctx.log('lease renewal failed', { error: (err as Error).message }),
      );
    }, Math.max(200, Math.floor(leaseMs / 3)));
    this.heartbeat.unref();
    this.loop = this.run();
  }

  /** Stops claiming, interrupts in-flight effects (their attempts are not counted), releases leases. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pause.cancel();
    await this.loop;
    this.shutdown.abort(new Error('worker shutting down'));
    await Promise.allSettled([...this.active.values()]);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await releaseAllLeases(this.ctx.pool, this.ctx.workerId).catch(() => undefined);
    await this.wakeups.unlisten();
  }

  /** Look for due work now. */
  wake(): void {
    this.pause.wake();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.pause.consume();
      const free = this.concurrency - this.active.size;
      let claimed: string[] = [];
      let loaded = new Map<string, Loaded>();
      if (free > 0) {
        try {
          claimed = await claimDueWork(this.ctx.pool, this.ctx.workerId, free, this.ctx.leaseMs);
          if (this.ctx.options.listen !== false) this.wakeups.relisten();
          // All claimed sagas read in one query (process() reads a saga on its own when missing).
          if (claimed.length) loaded = await loadSagas(this.ctx.store, claimed.filter((id) => !this.active.has(id))).catch(() => new Map());
          failures = 0;
        } catch (err) {
          failures++;
          this.ctx.log('claiming work failed', { error: (err as Error).message });
          await this.pause.sleep(failureBackoffMs(failures), { wakeable: false });
          continue;
        }
      }
      for (const sagaId of claimed) {
        if (this.active.has(sagaId)) continue;
        const p = this.process(sagaId, loaded.get(sagaId))
          .catch((err) => this.ctx.log('saga processing failed', { sagaId, error: (err as Error).message }))
          .finally(() => {
            this.active.delete(sagaId);
            this.wake();
          });
        this.active.set(sagaId, p);
      }
      if (claimed.length === 0 || this.active.size >= this.concurrency) await this.pause.sleep(this.ctx.options.pollIntervalMs ?? 250);
    }
  }
}
