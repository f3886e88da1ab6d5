import { runConcurrent } from '../harness/concurrency';
import { benchEvents } from '../harness/payload';
import { Workload } from '../harness/types';
import { EVENT_STORE_SYSTEMS, FIG, runPrefix, warmUpWrites, writeMetrics } from './common';

const BATCH = 10;

/** W2: 16 concurrent writers, 10-event appends (each to a new stream, no_stream), 50,000 events. */
export const w2: Workload = {
  id: 'W2',
  title: '16 writers, 10-event appends to new streams, 50,000 events',
  systems: EVENT_STORE_SYSTEMS,
  figures: [FIG.eventsPerSec, FIG.p50Ms, FIG.p99Ms],
  targets: [{ figure: 'eventsPerSec', kind: 'ratio', peer: 'emmett', op: '>=', value: 2.5 }],
  async run(ctx) {
    const appends = ctx.size(50_000 / BATCH);
    const store = await ctx.openEventStore();
    await warmUpWrites(ctx, store, { appends: ctx.quick ? 32 : 200, eventsPerAppend: BATCH });
    const batches = Array.from({ length: appends }, (_, i) => benchEvents(i * BATCH, BATCH));
    const prefix = runPrefix();
    ctx.phase('run');
    const run = await runConcurrent({
      workers: ctx.writers,
      total: appends,
      op: (i) => store.appendNew(`bench-${prefix}${i}`, batches[i]),
      progress: ctx.progress,
    });
    return { ...writeMetrics(run, BATCH), eventsPerAppend: BATCH };
  },
};
