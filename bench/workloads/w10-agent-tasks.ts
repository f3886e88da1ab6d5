import { runConcurrent } from '../harness/concurrency';
import { percentile, round } from '../harness/stats';
import { Figure, Metrics, Workload, WorkloadContext } from '../harness/types';
import { openBullmq } from '../systems/bullmq';
import { openGraphileWorker } from '../systems/graphile-worker';
import { openPlatformAgents } from '../systems/platform-agents';
import { JobRef, OpenTaskQueue, QueueShape, TaskQueueSystem } from '../systems/task-queue';

/** W10 systems: ours (the REST work protocol), BullMQ (Redis), graphile-worker (PostgreSQL). */
export const TASK_QUEUE_SYSTEMS: Record<string, OpenTaskQueue> = {
  ours: openPlatformAgents,
  bullmq: openBullmq,
  'graphile-worker': openGraphileWorker,
};

const INSTANCES = 8;
const PER_INSTANCE = 16;
/** Jobs per enqueue call = tasks per saga (BENCH_W10_BATCH; at most 64, the workflow's maxParallel limit). */
const DEFAULT_BATCH = 50;

const FIG = {
  tasksPerSec: { key: 'tasksPerSec', label: 'tasks/s (first enqueue → last complete)', unit: 'tasks/s', better: 'higher' },
  p50Ms: { key: 'p50Ms', label: 'p50 queued→complete', unit: 'ms', better: 'lower' },
  p99Ms: { key: 'p99Ms', label: 'p99 queued→complete', unit: 'ms', better: 'lower' },
  callP50Ms: { key: 'callP50Ms', label: 'p50 enqueue call returned→complete', unit: 'ms', better: 'lower' },
  callP99Ms: { key: 'callP99Ms', label: 'p99 enqueue call returned→complete', unit: 'ms', better: 'lower' },
} satisfies Record<string, Figure>;

interface PhaseResult {
  durationMs: number;
  enqueueMs: number;
  latencies: Float64Array;
  callLatencies: Float64Array;
}

interface PhaseCompletions {
  at: Float64Array;
  count: number;
  last: number;
  done: () => void;
  report: (count: number) => void;
}

/**
 * Completions by phase: each job's completion time, duplicates counted, and a promise of the last
 * one (resolved when every job of the phase has completed).
 */
class Completions {
  private readonly phases = new Map<string, PhaseCompletions>();
  duplicates = 0;
  unknown = 0;

  constructor(private readonly ctx: WorkloadContext) {}

  expect(phase: string, total: number, progress: boolean): { at: Float64Array; all: Promise<number> } {
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const entry: PhaseCompletions = {
      at: new Float64Array(total).fill(NaN),
      count: 0,
      last: 0,
      done,
      report: progress ? (n) => this.ctx.progress.update(n, total) : () => undefined,
    };
    this.phases.set(phase, entry);
    return { at: entry.at, all: all.then(() => entry.last) };
  }

  readonly onComplete = (job: JobRef, at: number): void => {
    const entry = this.phases.get(job.phase);
    if (!entry || !Number.isInteger(job.index) || job.index < 0 || job.index >= entry.at.length) {
      this.unknown++;
      return;
    }
    if (!Number.isNaN(entry.at[job.index])) {
      this.duplicates++;
      return;
    }
    entry.at[job.index] = at;
    entry.count++;
    entry.last = Math.max(entry.last, at);
    entry.report(entry.count);
    if (entry.count === entry.at.length) entry.done();
  };
}

async function runPhase(
  ctx: WorkloadContext,
  system: TaskQueueSystem,
  completions: Completions,
  phase: string,
  shape: QueueShape,
  batches: number,
  limitMs: number,
): Promise<PhaseResult> {
  const total = batches * shape.batchSize;
  const { at: completedAt, all } = completions.expect(phase, total, phase === 'run');
  const returnedAt = new Float64Array(total);
  const t0 = performance.now();
  const enqueue = runConcurrent({
    workers: shape.starters,
    total: batches,
    op: async (b) => {
      await system.enqueue(phase, b, b * shape.batchSize, shape.batchSize);
      returnedAt.fill(performance.now(), b * shape.batchSize, (b + 1) * shape.batchSize);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const done = completedAt.reduce((n, t) => (Number.isNaN(t) ? n : n + 1), 0);
      reject(new Error(`W10 ${ctx.system}: ${total - done} of ${total} ${phase} jobs not complete after ${limitMs / 1000} s`));
    }, limitMs);
  });
  let last: number;
  let enqueueMs: number;
  try {
    [enqueueMs, last] = await Promise.race([Promise.all([enqueue.then((r) => r.durationMs), all]), system.failed, timeout]);
    if (system.settle) last = Math.max(last, await Promise.race([system.settle(), system.failed, timeout]));
  } finally {
    clearTimeout(timer);
  }
  const queuedAt = system.queuedAt ? await system.queuedAt(phase, total) : returnedAt;
  const latencies = new Float64Array(total);
  const callLatencies = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    latencies[i] = completedAt[i] - queuedAt[i];
    callLatencies[i] = completedAt[i] - returnedAt[i];
  }
  return { durationMs: last - t0, enqueueMs, latencies, callLatencies };
}

/**
 * W10: `total` (20,000) no-op jobs through each system with the same shape — enqueued in batches of
 * `batch` (50) by `ctx.writers` (16) concurrent enqueuers, consumed by 8 consumers × 16 at a time —
 * after an untimed warm-up of the same shape and an ANALYZE. Throughput: jobs over the time from the
 * first enqueue call to the last completion (durable). Latency per job: queued → complete (`p50Ms`,
 * `p99Ms`; the platform queues a task when its saga step starts, the peers when the enqueue call
 * returns) and enqueue call returned → complete (`callP50Ms`, `callP99Ms`; the same for the peers,
 * the saga start's 202 for the platform).
 */
export const w10: Workload = {
  id: 'W10',
  title: '20,000 agent tasks through the REST work protocol (8 instances × 16) vs BullMQ and graphile-worker with the same concurrency',
  systems: Object.keys(TASK_QUEUE_SYSTEMS),
  figures: [FIG.tasksPerSec, FIG.p50Ms, FIG.p99Ms, FIG.callP50Ms, FIG.callP99Ms],
  targets: [
    { figure: 'tasksPerSec', kind: 'ratio', peer: 'bullmq', op: '>=', value: 1 },
    { figure: 'tasksPerSec', kind: 'ratio', peer: 'graphile-worker', op: '>=', value: 2 },
  ],
  async run(ctx): Promise<Metrics> {
    const open = TASK_QUEUE_SYSTEMS[ctx.system];
    if (!open) throw new Error(`W10: ${ctx.system} is not a task queue`);
    const batchSize = Math.min(64, Math.max(1, Number(process.env.BENCH_W10_BATCH) || DEFAULT_BATCH));
    const batches = Math.max(1, Math.round(ctx.size(20_000) / batchSize));
    const shape: QueueShape = { total: batches * batchSize, batchSize, instances: INSTANCES, perInstance: PER_INSTANCE, starters: ctx.writers };
    const limitMs = ctx.quick ? 300_000 : 1_800_000;
    const completions = new Completions(ctx);
    const system = await open(ctx, shape, completions.onComplete);
    ctx.onCleanup(() => system.close());

    ctx.phase('warm-up');
    await runPhase(ctx, system, completions, 'warm', shape, ctx.quick ? 1 : 8, limitMs);
    await system.verify?.('warm');
    await ctx.analyze();

    ctx.phase('run');
    const run = await runPhase(ctx, system, completions, 'run', shape, batches, limitMs);
    ctx.phase('verifying');
    const checked = (await system.verify?.('run')) ?? {};
    if (completions.duplicates || completions.unknown) {
      throw new Error(`W10 ${ctx.system}: ${completions.duplicates} jobs completed twice, ${completions.unknown} completions of unknown jobs`);
    }
    return {
      tasksPerSec: round((shape.total / run.durationMs) * 1000),
      p50Ms: round(percentile(run.latencies, 50)),
      p99Ms: round(percentile(run.latencies, 99)),
      callP50Ms: round(percentile(run.callLatencies, 50)),
      callP99Ms: round(percentile(run.callLatencies, 99)),
      tasks: shape.total,
      durationMs: round(run.durationMs),
      enqueueMs: round(run.enqueueMs),
      starters: shape.starters,
      ...system.settings,
      ...checked,
    };
  },
};
