import { timeSequential } from '../harness/concurrency';
import { expectedTotal } from '../harness/payload';
import { median, round } from '../harness/stats';
import { Metrics, Workload } from '../harness/types';
import { runPrefix } from './common';

/**
 * W5: load an aggregate of 10,000 events, with snapshots (every 100 events, written by the
 * production path) and without. Emmett has no snapshots: its aggregateStream is the comparison.
 * The bare-pg ceiling has no aggregates and skips W5.
 */
export const w5: Workload = {
  id: 'W5',
  title: 'load an aggregate of 10,000 events, with snapshots every 100 and without',
  systems: ['ours', 'ours-nonotify', 'emmett'],
  figures: [
    { key: 'medianMsWithSnapshots', label: 'median load, snapshots', unit: 'ms', better: 'lower' },
    { key: 'medianMsWithoutSnapshots', label: 'median load, no snapshots', unit: 'ms', better: 'lower' },
    { key: 'snapshotSpeedup', label: 'speed-up from snapshots', unit: '×', better: 'higher' },
  ],
  targets: [{ figure: 'snapshotSpeedup', kind: 'absolute', op: '>=', value: 10, note: 'ours without / with snapshots' }],
  async run(ctx) {
    // The aggregate's length is the workload itself: only --quick shortens it.
    const count = ctx.quick ? 1_000 : 10_000;
    const loads = ctx.size(20, 10);
    const store = await ctx.openEventStore();
    const aggregates = store.aggregates;
    if (!aggregates) throw new Error(`W5: ${ctx.system} has no aggregate support`);
    const id = runPrefix();
    const total = expectedTotal(count);

    ctx.phase('setup');
    const { snapshotVersion } = await aggregates.prepare(id, count, (done) => ctx.progress.update(done, count));

    await ctx.analyze();

    const timeLoads = async (useSnapshots: boolean) => {
      ctx.phase(`load ${useSnapshots ? 'with' : 'without'} snapshots`);
      return timeSequential(
        loads,
        3,
        async () => {
          const r = await aggregates.load(id, useSnapshots);
          if (r.state.count !== count || r.state.total !== total || r.version !== count - 1) {
            throw new Error(`W5: loaded count ${r.state.count} total ${r.state.total} v${r.version}, expected ${count}/${total}`);
          }
          if (r.fromSnapshot !== useSnapshots) throw new Error(`W5: fromSnapshot ${r.fromSnapshot}, expected ${useSnapshots}`);
        },
        ctx.progress,
      );
    };

    const metrics: Metrics = { events: count, loads };
    const without = median(await timeLoads(false));
    metrics.medianMsWithoutSnapshots = round(without);
    if (aggregates.snapshots) {
      const withSnap = median(await timeLoads(true));
      metrics.medianMsWithSnapshots = round(withSnap);
      metrics.snapshotSpeedup = round(without / withSnap);
      metrics.snapshotEvery = 100;
      if (snapshotVersion !== undefined) metrics.tailEvents = count - 1 - snapshotVersion;
    }
    return metrics;
  },
};
