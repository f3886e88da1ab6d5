/**
 * Long polls waiting for work, per tenant. A waiter holds no database connection: it sleeps here
 * until a wake-up (a task queued in this process, a NOTIFY or a Redis message from another one)
 * or its deadline, then tries to lock again. `recheckMs` bounds how long a missed wake-up can
 * delay it (PGlite has no cross-process NOTIFY; correctness never depends on a wake-up).
 */
export class TaskWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private stopping = false;

  constructor(private readonly recheckMs = 1000) {}

  /** Resolves on a wake-up for `tenantId`, after `ms` (at most `recheckMs`), or when `signal` aborts. */
  wait(tenantId: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiting.get(tenantId) ?? new Set();
      this.waiting.set(tenantId, set);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(tenantId) === set) this.waiting.delete(tenantId);
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, this.recheckMs));
      timer.unref?.();
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Wakes the tenant's waiters (every tenant's when `tenantId` is undefined). */
  wake(tenantId?: string): void {
    const sets = tenantId === undefined ? [...this.waiting.values()] : [this.waiting.get(tenantId)].filter(Boolean);
    for (const set of sets) for (const done of [...set!]) done();
  }

  /**
   * The process is stopping: every long poll answers now (with what it has) and no new one waits,
   * so the HTTP server can close without waiting out their `waitMs`.
   */
  close(): void {
    this.stopping = true;
    this.wake();
  }

  get closed(): boolean {
    return this.stopping;
  }

  get size(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }
}
