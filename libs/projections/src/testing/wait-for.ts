/** Test helpers of the projection integration specs (not part of the public API). */

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the timeout error, so a failure tells what never happened. */
  what?: string;
}

/** Resolves as soon as `condition` holds; rejects after `timeoutMs`. Use instead of fixed sleeps. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  const { timeoutMs = 20_000, intervalMs = 10, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`waitFor: ${what} did not happen within ${timeoutMs} ms`);
    await delay(intervalMs);
  }
}

/** A deliberate pause (an artificial slow handler), never a way to wait for a condition. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
