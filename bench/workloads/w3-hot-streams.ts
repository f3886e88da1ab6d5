import { runConcurrent } from '../harness/concurrency';
import { benchEvent, benchEvents } from '../harness/payload';
import { round, seededRandom } from '../harness/stats';
import { Workload } from '../harness/types';
import { EVENT_STORE_SYSTEMS, FIG, runPrefix, warmUpWrites, writeMetrics } from './common';

const STREAMS = 16;
const MAX_ATTEMPTS = 10_000;

/**
 * W3: 16 writers on 16 hot streams, 1-event appends with the exact expected version. Each writer
 * remembers the version it last saw of each stream (as a caching command handler would), picks a
 * stream at random (seeded: every system gets the same choices per writer), appends with that
 * version, and on a conflict reads the events it missed and retries. Latency includes retries.
 */
export const w3: Workload = {
  id: 'W3',
  title: '16 writers on 16 hot streams, exact expected version, retry on conflict, 20,000 events',
  systems: EVENT_STORE_SYSTEMS,
  figures: [FIG.eventsPerSec, { key: 'conflicts', label: 'conflicts', unit: '', better: 'info' }],
  async run(ctx) {
    const total = ctx.size(20_000);
    const store = await ctx.openEventStore();
    await warmUpWrites(ctx, store, { appends: ctx.quick ? 64 : 400, eventsPerAppend: 1 });

    const prefix = runPrefix();
    const streamIds = Array.from({ length: STREAMS }, (_, s) => `hot-${prefix}${s}`);
    // Untimed: every hot stream starts with one event (version 0).
    for (const id of streamIds) {
      const v = await store.appendExpected(id, [benchEvent(0)], -1);
      if (v !== 0) throw new Error(`W3 setup: ${id} created at ${String(v)}`);
    }
    await ctx.analyze();
    const known = Array.from({ length: ctx.writers }, () => new Array<number>(STREAMS).fill(0));
    const random = Array.from({ length: ctx.writers }, (_, w) => seededRandom(1_000 + w));
    const events = benchEvents(1, total);
    let conflicts = 0;

    ctx.phase('run');
    const run = await runConcurrent({
      workers: ctx.writers,
      total,
      op: async (i, w) => {
        const s = Math.floor(random[w]() * STREAMS);
        for (let attempt = 1; ; attempt++) {
          const result = await store.appendExpected(streamIds[s], [events[i]], known[w][s]);
          if (result !== 'conflict') {
            known[w][s] = result;
            return;
          }
          conflicts++;
          if (attempt >= MAX_ATTEMPTS) throw new Error(`W3: ${MAX_ATTEMPTS} conflicts in a row on ${streamIds[s]}`);
          known[w][s] = await store.readAfter(streamIds[s], known[w][s]);
        }
      },
      progress: ctx.progress,
    });

    // Untimed check: exactly total + STREAMS events landed, gapless.
    let stored = 0;
    for (const id of streamIds) stored += (await store.readAfter(id, -1)) + 1;
    if (stored !== total + STREAMS) throw new Error(`W3: ${stored} events stored, expected ${total + STREAMS}`);

    return {
      ...writeMetrics(run, 1),
      conflicts,
      conflictsPerEvent: round(conflicts / total),
      hotStreams: STREAMS,
    };
  },
};
