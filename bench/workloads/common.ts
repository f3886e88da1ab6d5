import { randomUUID } from 'crypto';
import { ConcurrentRun, runConcurrent } from '../harness/concurrency';
import { benchEvents } from '../harness/payload';
import { percentile, round } from '../harness/stats';
import { Figure, Metrics, WorkloadContext } from '../harness/types';
import { EventStoreAdapter } from '../systems/adapter';

/** Systems with an event-store adapter (bench/systems/index.ts). */
export const EVENT_STORE_SYSTEMS = ['ours', 'ours-nonotify', 'emmett', 'pg'];

export const FIG = {
  eventsPerSec: { key: 'eventsPerSec', label: 'events/s', unit: 'ev/s', better: 'higher' },
  p50Ms: { key: 'p50Ms', label: 'p50 append', unit: 'ms', better: 'lower' },
  p99Ms: { key: 'p99Ms', label: 'p99 append', unit: 'ms', better: 'lower' },
  medianMs: { key: 'medianMs', label: 'median read', unit: 'ms', better: 'lower' },
} satisfies Record<string, Figure>;

/** A short unique prefix so that warm-up and timed streams never collide. */
export const runPrefix = (): string => randomUUID().slice(0, 8);

/**
 * Untimed warm-up with the workload's own shape: opens every pooled connection, prepares the
 * statements and lets V8 optimise the hot paths before the clock starts.
 */
export async function warmUpWrites(
  ctx: WorkloadContext,
  store: EventStoreAdapter,
  options: { appends: number; eventsPerAppend: number },
): Promise<void> {
  ctx.phase('warm-up');
  const prefix = runPrefix();
  await runConcurrent({
    workers: ctx.writers,
    total: options.appends,
    op: (i) => store.appendNew(`warm-${prefix}${i}`, benchEvents(i * options.eventsPerAppend, options.eventsPerAppend)),
    progress: ctx.progress,
  });
  await ctx.analyze();
}

export function writeMetrics(run: ConcurrentRun, eventsPerAppend: number): Metrics {
  const events = run.operations * eventsPerAppend;
  return {
    eventsPerSec: round((events / run.durationMs) * 1000),
    p50Ms: round(percentile(run.latenciesMs, 50)),
    p99Ms: round(percentile(run.latenciesMs, 99)),
    events,
    appends: run.operations,
    durationMs: round(run.durationMs),
  };
}
