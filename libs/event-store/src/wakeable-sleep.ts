/**
 * The pause of a polling loop that a wake-up (LISTEN/NOTIFY, Redis, an in-process signal) can cut
 * short, and that stopping always ends. A wake-up that arrives while the loop is busy is kept, so
 * the next pause returns at once: no signal is lost between two polls.
 */
export class WakeableSleep {
  private pending = false;
  private cancelled = false;
  private readonly sleepers = new Set<() => void>();

  /** The next (or current) wakeable pause returns at once. */
  wake(): void {
    this.pending = true;
    for (const s of this.sleepers) if ((s as { wakeable?: boolean }).wakeable) s();
  }

  /** Ends every pause, now and later (the loop is stopping). */
  cancel(): void {
    this.cancelled = true;
    for (const s of [...this.sleepers]) s();
  }

  /** Allows pauses again after `cancel` (the loop restarts), forgetting old wake-ups. */
  reset(): void {
    this.cancelled = false;
    this.pending = false;
  }

  /** Call at the top of each round: wake-ups before this point have been served. */
  consume(): void {
    this.pending = false;
  }

  /**
   * Pauses `ms`. `wakeable: false` is for failure backoffs: wake-ups (frequent under load) must not
   * turn every one of them into another attempt; only `cancel` ends it early.
   */
  sleep(ms: number, options: { wakeable?: boolean } = {}): Promise<void> {
    const wakeable = options.wakeable ?? true;
    return new Promise((resolve) => {
      if (this.cancelled || (wakeable && this.pending)) return resolve();
      const done = Object.assign(
        () => {
          clearTimeout(timer);
          this.sleepers.delete(done);
          resolve();
        },
        { wakeable },
      );
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}

/**
 * The pause after the `failures`-th failure in a row of a polling loop (the database away, a
 * handler failing): 100 ms doubling, with jitter so that many loops do not retry in step, capped so
 * that a loop is back within `capMs` of the database's return.
 */
export function failureBackoffMs(failures: number, capMs = 5000): number {
  const base = Math.min(capMs, 100 * 2 ** Math.min(Math.max(failures, 1) - 1, 16));
  return Math.round(base * (0.75 + Math.random() * 0.25));
}
