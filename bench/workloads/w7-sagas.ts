import { runConcurrent } from '../harness/concurrency';
import { percentile, round } from '../harness/stats';
import { Figure, Metrics, Workload, WorkloadContext } from '../harness/types';
import { SAGA_STEPS, SagaOutcome, SagaSystem } from '../systems/sagas';
import { SAGA_SYSTEMS } from '../systems/sagas-registry';

export const SAGA_FIG = {
  sagasPerSec: { key: 'sagasPerSec', label: 'sagas/s', unit: 'sagas/s', better: 'higher' },
  p50Ms: { key: 'p50Ms', label: 'p50 saga (start→terminal)', unit: 'ms', better: 'lower' },
  p99Ms: { key: 'p99Ms', label: 'p99 saga (start→terminal)', unit: 'ms', better: 'lower' },
} satisfies Record<string, Figure>;

/**
 * Runs `total` five-step sagas from `ctx.writers` concurrent starters (each starter awaits its
 * start call, then starts the next) and waits until every saga is terminal. Saga time = from just
 * before the start call to the moment the system reports the saga terminal (in this process).
 * Sagas for which `fails(i)` holds fail at step 5 and compensate steps 4..1.
 */
export async function runSagaWorkload(ctx: WorkloadContext, fails: (index: number) => boolean): Promise<Metrics> {
  const open = SAGA_SYSTEMS[ctx.system];
  if (!open) throw new Error(`${ctx.workload}: ${ctx.system} has no saga support`);
  const total = ctx.size(1000, 50);
  ctx.phase('creating database');
  const url = await ctx.createDatabase();
  ctx.phase('setup');
  const system: SagaSystem = await open(url, ctx.poolSize);
  ctx.onCleanup(() => system.close());
  const limitMs = ctx.quick ? 60_000 : 600_000;

  const runBatch = async (count: number, offset: number, progress: boolean) => {
    const done: Promise<void>[] = new Array(count);
    const latencies = new Float64Array(count);
    const statuses: SagaOutcome['status'][] = new Array(count);
    let terminal = 0;
    let lastAt = 0;
    const started = performance.now();
    const starts = await runConcurrent({
      workers: ctx.writers,
      total: count,
      op: async (i) => {
        const t0 = performance.now();
        const { done: outcome } = await system.start(offset + i, fails(offset + i));
        done[i] = outcome.then((o) => {
          latencies[i] = o.at - t0;
          statuses[i] = o.status;
          lastAt = Math.max(lastAt, o.at);
          terminal++;
          if (progress) ctx.progress.update(terminal, count);
        });
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(done),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${ctx.workload}: ${count - terminal} of ${count} sagas not terminal after ${limitMs / 1000} s`)), limitMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return { latencies, statuses, durationMs: lastAt - started, startsMs: starts.durationMs, startLatencies: starts.latenciesMs };
  };

  ctx.phase('warm-up');
  const warm = ctx.quick ? 8 : 4 * ctx.writers;
  await runBatch(warm, 1_000_000, false);
  await ctx.analyze();
  const before = system.counters();

  ctx.phase('run');
  const run = await runBatch(total, 0, true);
  const after = system.counters();

  const failing = Array.from({ length: total }, (_, i) => fails(i)).filter(Boolean).length;
  const compensated = run.statuses.filter((s) => s === 'COMPENSATED').length;
  const completed = run.statuses.filter((s) => s === 'COMPLETED').length;
  const steps = after.steps - before.steps;
  const compensations = after.compensations - before.compensations;
  const expectedSteps = total * SAGA_STEPS - failing; // the failing fifth step is not a completed no-op
  if (completed !== total - failing || compensated !== failing || steps !== expectedSteps || compensations !== failing * (SAGA_STEPS - 1)) {
    throw new Error(
      `${ctx.workload}: ${completed} completed / ${compensated} compensated (expected ${total - failing} / ${failing}), ` +
        `${steps} steps / ${compensations} compensations run (expected ${expectedSteps} / ${failing * (SAGA_STEPS - 1)})`,
    );
  }
  return {
    sagasPerSec: round((total / run.durationMs) * 1000),
    p50Ms: round(percentile(run.latencies, 50)),
    p99Ms: round(percentile(run.latencies, 99)),
    sagas: total,
    compensatedSagas: compensated,
    durationMs: round(run.durationMs),
    startsPerSec: round((total / run.startsMs) * 1000),
    startP50Ms: round(percentile(run.startLatencies, 50)),
    starters: ctx.writers,
    ...system.settings,
  };
}

/** A saga workload (W7, W8): every saga system, the same figures and target, `fails` picking the sagas that compensate. */
export const sagaWorkload = (id: string, title: string, fails: (index: number) => boolean): Workload => ({
  id,
  title,
  systems: Object.keys(SAGA_SYSTEMS),
  figures: [SAGA_FIG.sagasPerSec, SAGA_FIG.p50Ms, SAGA_FIG.p99Ms],
  targets: [{ figure: 'sagasPerSec', kind: 'ratio', peer: 'dbos', op: '>=', value: 2 }],
  run: (ctx) => runSagaWorkload(ctx, fails),
});

/** W7: 1,000 five-step sagas of no-op steps, 16 concurrent starters, until all are terminal. */
export const w7 = sagaWorkload('W7', '1,000 five-step sagas (no-op steps), 16 concurrent starters, until all are terminal', () => false);
