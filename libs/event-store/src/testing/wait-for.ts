/** Test helpers for the event-store integration specs (not part of the public API). */

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the timeout error, so a failure tells what never happened. */
  what?: string;
}

/** Resolves as soon as `condition` holds; rejects after `timeoutMs`. Use instead of fixed sleeps. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  const { timeoutMs = 15_000, intervalMs = 5, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`waitFor: ${what} did not happen within ${timeoutMs} ms`);
    await delay(intervalMs);
  }
}

/** A deliberate pause (e.g. holding a transaction open), never a way to wait for a condition. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the global log is readable up to `position`. An event becomes readable by readAll
 * only when every older writing transaction on the server (in any database) has ended, so a test
 * that reads the log right after appending must wait for it rather than assume it.
 */
export function waitUntilReadable(store: { headPosition(): Promise<number> }, position: number): Promise<void> {
  return waitFor(async () => (await store.headPosition()) >= position, { what: `position ${position} readable`, timeoutMs: 60_000 });
}

/**
 * Opens `count` connections of `pool` and returns them to it idle, so that a race started next
 * runs on open connections instead of queuing on connection setup. The test server is shared: when
 * it is momentarily out of connection slots (53300), tries again until `timeoutMs`.
 */
export async function openConnections(
  pool: { connect(): Promise<{ release(): void }> },
  count: number,
  timeoutMs = 60_000,
): Promise<void> {
  const clients: { release(): void }[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (clients.length < count) {
      try {
        clients.push(await pool.connect());
      } catch (err) {
        if ((err as { code?: string }).code !== '53300' || Date.now() > deadline) throw err;
        await delay(50);
      }
    }
  } finally {
    clients.forEach((c) => c.release());
  }
}
