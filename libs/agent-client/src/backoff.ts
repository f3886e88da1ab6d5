export interface BackoffOptions {
  /** First delay (default 250 ms); doubles per attempt. */
  baseMs?: number;
  /** Ceiling (default 15 s). */
  maxMs?: number;
}

/**
 * Exponential backoff with "equal jitter": half of the delay is fixed so retries never collapse to a
 * busy loop, half is random so a fleet of instances reconnecting to a restarted API spreads out.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 15_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/** Waits `ms`; an abort ends the wait early and quietly (the caller checks why it woke up). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
