import { runConcurrent } from '../harness/concurrency';
import { PAYLOAD_BYTES, benchEvents } from '../harness/payload';
import { Workload } from '../harness/types';
import { EVENT_STORE_SYSTEMS, FIG, runPrefix, warmUpWrites, writeMetrics } from './common';

/** W1: 16 concurrent writers, 20,000 appends of one ≈100-byte event each to a new stream (no_stream). */
export const w1: Workload = {
  id: 'W1',
  title: '16 writers, 20,000 × 1-event appends to new streams (no_stream)',
  systems: EVENT_STORE_SYSTEMS,
  figures: [FIG.eventsPerSec, FIG.p50Ms, FIG.p99Ms],
  targets: [
    { figure: 'eventsPerSec', kind: 'ratio', peer: 'emmett', op: '>=', value: 2.5 },
    { figure: 'eventsPerSec', kind: 'ratio', peer: 'pg', op: '>=', value: 0.8 },
  ],
  async run(ctx) {
    const appends = ctx.size(20_000);
    const store = await ctx.openEventStore();
    await warmUpWrites(ctx, store, { appends: ctx.quick ? 64 : 800, eventsPerAppend: 1 });
    const events = benchEvents(0, appends);
    const prefix = runPrefix();
    ctx.phase('run');
    const run = await runConcurrent({
      workers: ctx.writers,
      total: appends,
      op: (i) => store.appendNew(`bench-${prefix}${i}`, [events[i]]),
      progress: ctx.progress,
    });
    return { ...writeMetrics(run, 1), payloadBytes: PAYLOAD_BYTES };
  },
};
