import { timeSequential } from '../harness/concurrency';
import { benchEvents } from '../harness/payload';
import { median, percentile, round } from '../harness/stats';
import { Workload } from '../harness/types';
import { EVENT_STORE_SYSTEMS, FIG, runPrefix } from './common';

const BATCH = 100;

/** W4: read one 1,000-event stream, 100 times (sequentially); median time of a whole-stream read. */
export const w4: Workload = {
  id: 'W4',
  title: 'read one 1,000-event stream, 100 times',
  systems: EVENT_STORE_SYSTEMS,
  figures: [FIG.medianMs],
  targets: [{ figure: 'medianMs', kind: 'ratio', peer: 'emmett', op: '<=', value: 0.6 }],
  async run(ctx) {
    const length = 1_000;
    const reads = ctx.size(100, 20);
    const store = await ctx.openEventStore();
    const streamId = `read-${runPrefix()}`;
    ctx.phase('setup');
    for (let done = 0; done < length; done += BATCH) {
      const v = await store.appendExpected(streamId, benchEvents(done, BATCH), done - 1);
      if (v === 'conflict') throw new Error('W4 setup: conflict');
      ctx.progress.update(done + BATCH, length);
    }
    await ctx.analyze();
    ctx.phase('run');
    const times = await timeSequential(
      reads,
      ctx.quick ? 5 : 10,
      async () => {
        const events = await store.readWhole(streamId);
        if (events.length !== length) throw new Error(`W4: read ${events.length} events, expected ${length}`);
      },
      ctx.progress,
    );
    return {
      medianMs: round(median(times)),
      p99Ms: round(percentile(times, 99)),
      minMs: round(Math.min(...times)),
      reads,
      events: length,
    };
  },
};
