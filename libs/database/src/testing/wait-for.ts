/** Polling helpers for specs (unit, integration, e2e): wait for a condition instead of sleeping. */

export interface WaitForOptions {
  /** Default 20 000. */
  timeoutMs?: number;
  /** Pause between two polls; by default 10 ms, doubling up to 50 ms (quick first looks, light long waits). */
  intervalMs?: number;
  /** Said in the timeout error, so a failure tells what never happened (a function: evaluated then). */
  what?: string | (() => string);
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Resolves with the first truthy value of `condition` (polled; a throw counts as not yet); rejects
 * after `timeoutMs`, with the last error if there was one. Use instead of fixed sleeps.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitForOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 20_000, intervalMs, what = 'condition' } = options;
  let pause = intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const said = typeof what === 'function' ? what() : what;
      throw new Error(`waitFor: ${said} did not happen within ${timeoutMs} ms${detail}`);
    }
    await delay(pause);
    if (intervalMs === undefined) pause = Math.min(pause * 2, 50);
  }
}

/** A deliberate pause (the length of an outage, say), never a way to wait for a condition. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A promise with its resolve and reject at hand: a test decides when something finishes. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
