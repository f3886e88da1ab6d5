import { Progress } from './progress';

export interface ConcurrentRun {
  durationMs: number;
  /** Latency of each operation, in completion order. */
  latenciesMs: Float64Array;
  operations: number;
}

/**
 * Runs `total` operations on `workers` concurrent loops (each takes the next index from a shared
 * counter, so no worker idles while work remains) and times each operation and the whole run.
 */
export async function runConcurrent(options: {
  workers: number;
  total: number;
  op: (index: number, worker: number) => Promise<void>;
  progress?: Progress;
}): Promise<ConcurrentRun> {
  const { workers, total, op, progress } = options;
  const latencies = new Float64Array(total);
  let next = 0;
  let done = 0;
  const started = performance.now();
  const loop = async (worker: number) => {
    for (;;) {
      const index = next++;
      if (index >= total) return;
      const t0 = performance.now();
      await op(index, worker);
      latencies[done++] = performance.now() - t0;
      progress?.update(done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, total) }, (_, w) => loop(w)));
  return { durationMs: performance.now() - started, latenciesMs: latencies.subarray(0, done), operations: done };
}

/** Times `runs` sequential calls of `fn` (after `warmup` untimed ones); returns each duration. */
export async function timeSequential(
  runs: number,
  warmup: number,
  fn: (i: number) => Promise<void>,
  progress?: Progress,
): Promise<Float64Array> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const out = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(i);
    out[i] = performance.now() - t0;
    progress?.update(i + 1, runs);
  }
  return out;
}
