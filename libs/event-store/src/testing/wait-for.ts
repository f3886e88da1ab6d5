/** Test helpers for the event-store integration specs (not part of the public API). */
import { delay, waitFor } from '@app/database';

export { waitFor, delay, WaitForOptions } from '@app/database';

/**
 * Waits until the global log is readable up to `position`. An event becomes readable by readAll
 * only when every older writing transaction of its database has ended, so a test
 * that reads the log right after appending must wait for it rather than assume it.
 */
export async function waitUntilReadable(store: { headPosition(): Promise<number> }, position: number): Promise<void> {
  await waitFor(async () => (await store.headPosition()) >= position, { what: `position ${position} readable`, timeoutMs: 60_000 });
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
