/** How the local runtime spaces the restarts of an instance that keeps crashing. */
export interface RestartBackoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RESTART_BACKOFF: Readonly<RestartBackoff> = Object.freeze({ baseMs: 500, maxMs: 30_000 });

/**
 * The pause before restarting after the `crashesInARow`-th crash in a row: base, doubling, capped.
 * No jitter: a handful of children of one worker, and an operator reading the log expects 0.5 s,
 * 1 s, 2 s, ...
 */
export function restartDelayMs(crashesInARow: number, backoff: RestartBackoff = DEFAULT_RESTART_BACKOFF): number {
  const exponent = Math.min(Math.max(crashesInARow, 1) - 1, 30);
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
}
