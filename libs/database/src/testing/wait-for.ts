/** Polling helpers for integration specs: wait for a condition instead of sleeping. */

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the timeout error, so a failure tells what never happened (a function: evaluated then). */
  what?: string | (() => string);
}

/** Resolves as soon as `condition` holds; rejects after `timeoutMs`. Use instead of fixed sleeps. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  const { timeoutMs = 20_000, intervalMs = 10, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const said = typeof what === 'function' ? what() : what;
      throw new Error(`waitFor: ${said} did not happen within ${timeoutMs} ms${detail}`);
    }
    await delay(intervalMs);
  }
}

/** A deliberate pause (the length of an outage, say), never a way to wait for a condition. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
