import { Pool } from 'pg';
import { createPool, migrate } from '@app/database';
import { createMessageBus, MessageBus, Subscription } from '@app/messaging';
import { WORK_WAKE_CHANNEL, Waker } from '@app/platform';
import { SagaExecutor } from '@app/sagas';
import { createSagaRuntime } from '../../libs/sagas/src/testing/saga-test-kit';
import { numericTypes } from '../harness/pg-types';
import { TENANT } from '../harness/payload';
import { percentile, round, seededRandom } from '../harness/stats';
import { Metrics, Workload, WorkloadContext } from '../harness/types';
import { benchTaskHandlers, fiveStepWorkflow } from '../systems/sagas';

/**
 * WL (wake-up latency, for the Redis question): how soon a saga started by one process is picked
 * up by a worker in another, and how long a worker takes from one step to the next.
 *
 * A starter runtime and a worker runtime on separate pools in this process (as an API process and a
 * worker process would be). The worker does NOT listen to PostgreSQL notifications (`listen:
 * false`) and polls every POLL_MS. Modes:
 *   - `redis`: the starter's `onNewWork` signals the platform's Waker, which publishes on Redis
 *     (createMessageBus({ redisUrl }).notify, coalesced every 10 ms as in production); the worker's
 *     bus.onNotify(WORK_WAKE_CHANNEL) calls executor.wake() (as WorkerModule wires it).
 *   - `poll`: the same without Redis: the worker finds the saga at its next poll.
 *   - `listen` (reference): no Redis, the worker LISTENs to PostgreSQL's saga_work channel (the
 *     default when not embedded).
 * Sagas (five no-op steps) are started one at a time, each after the previous one is terminal and a
 * random pause (seeded, uniform in [0, POLL_MS)) so that starts fall at every phase of the poll.
 * Times come from the worker's afterCommit hook (same process, same clock):
 *   start→first step = start committed (start() returned) → first StepStarted committed;
 *   step→step = StepSucceeded of step k committed → StepStarted of step k+1 committed.
 */

const POLL_MS = 500;
type Mode = 'redis' | 'poll' | 'listen';
const MODES: Mode[] = ['redis', 'poll', 'listen'];

async function measureMode(ctx: WorkloadContext, url: string, mode: Mode, sagas: number, redisUrl: string, prefix: string): Promise<Metrics> {
  ctx.phase(`${mode}`);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    const starterPool: Pool = createPool(url, { max: 4, types: numericTypes });
    stops.push(() => starterPool.end());
    const workerPool: Pool = createPool(url, { max: ctx.poolSize, types: numericTypes });
    stops.push(() => workerPool.end());

    let starterBus: MessageBus | undefined;
    let waker: Waker | undefined;
    if (mode === 'redis') {
      starterBus = createMessageBus({ redisUrl, prefix, onError: () => undefined });
      stops.push(() => starterBus!.close());
      waker = new Waker(starterBus);
    }
    const starter = createSagaRuntime(starterPool, {
      handlers: benchTaskHandlers(),
      listen: false,
      onNewWork: waker ? () => waker!.signal(WORK_WAKE_CHANNEL) : undefined,
    }).executor;

    // Per saga: commit times of its StepStarted / StepSucceeded events, by step index.
    const stepStarted = new Map<string, number[]>();
    const stepSucceeded = new Map<string, number[]>();
    const terminal = new Map<string, () => void>();
    const worker: SagaExecutor = createSagaRuntime(workerPool, {
      handlers: benchTaskHandlers(),
      listen: mode === 'listen',
      pollIntervalMs: POLL_MS,
      concurrency: 32,
      afterCommit: (events, state) => {
        const now = performance.now();
        for (const e of events) {
          const step = Number(String((e.data as { step?: string }).step ?? '').replace(/^t/, '')) - 1;
          if (e.type === 'StepStarted') (stepStarted.get(state.sagaId) ?? stepStarted.set(state.sagaId, []).get(state.sagaId)!)[step] = now;
          if (e.type === 'StepSucceeded') (stepSucceeded.get(state.sagaId) ?? stepSucceeded.set(state.sagaId, []).get(state.sagaId)!)[step] = now;
        }
        if (state.status === 'COMPLETED' || state.status === 'COMPENSATED' || state.status === 'COMPENSATION_FAILED') {
          terminal.get(state.sagaId)?.();
        }
      },
    }).executor;
    let subscription: Subscription | undefined;
    if (mode === 'redis') {
      const workerBus = createMessageBus({ redisUrl, prefix, onError: () => undefined });
      stops.push(() => workerBus.close());
      try {
        subscription = await workerBus.onNotify(WORK_WAKE_CHANNEL, () => worker.wake());
      } catch (err) {
        throw new Error(`WL: Redis at ${redisUrl} not reachable (set REDIS_URL): ${(err as Error).message}`);
      }
      stops.push(() => subscription!.close());
    }
    await worker.startWorker();
    stops.push(() => worker.stopWorker());

    const random = seededRandom(7);
    const runOne = async (index: number) => {
      await new Promise((r) => setTimeout(r, Math.floor(random() * POLL_MS)));
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const t0 = performance.now();
      const { sagaId } = await starter.start({ tenantId: TENANT, sagaType: 'task-workflow', input: fiveStepWorkflow(index, false) });
      const committed = performance.now();
      terminal.set(sagaId, done);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`WL ${mode}: saga ${index} not terminal after 30 s`)), 30_000);
        }),
      ]).finally(() => clearTimeout(timer));
      terminal.delete(sagaId);
      return { sagaId, t0, committed };
    };

    const warm = ctx.quick ? 1 : 5;
    for (let i = 0; i < warm; i++) await runOne(1_000_000 + i);
    const firstStep: number[] = [];
    const stepToStep: number[] = [];
    const startCall: number[] = [];
    for (let i = 0; i < sagas; i++) {
      const r = await runOne(i);
      const started = stepStarted.get(r.sagaId) ?? [];
      const succeeded = stepSucceeded.get(r.sagaId) ?? [];
      if (started.length !== 5 || succeeded.length !== 5) throw new Error(`WL ${mode}: saga ${i} has ${started.length} starts / ${succeeded.length} successes`);
      firstStep.push(started[0] - r.committed);
      startCall.push(r.committed - r.t0);
      for (let k = 1; k < 5; k++) stepToStep.push(started[k] - succeeded[k - 1]);
      ctx.progress.update(i + 1, sagas);
    }
    return {
      [`${mode}FirstStepP50Ms`]: round(percentile(firstStep, 50)),
      [`${mode}FirstStepP99Ms`]: round(percentile(firstStep, 99)),
      [`${mode}StepToStepP50Ms`]: round(percentile(stepToStep, 50)),
      [`${mode}StepToStepP99Ms`]: round(percentile(stepToStep, 99)),
      [`${mode}StartCallP50Ms`]: round(percentile(startCall, 50)),
    };
  } finally {
    await stopAll();
  }
}

export const wLatency: Workload = {
  id: 'WL',
  title: 'wake-up latency: saga start→first step and step→step, worker woken by Redis vs polling only (vs LISTEN)',
  systems: ['ours'],
  figures: [
    { key: 'redisFirstStepP50Ms', label: 'start→first step p50, Redis wake-up', unit: 'ms', better: 'lower' },
    { key: 'redisFirstStepP99Ms', label: 'start→first step p99, Redis wake-up', unit: 'ms', better: 'lower' },
    { key: 'pollFirstStepP50Ms', label: `start→first step p50, polling only (${POLL_MS} ms)`, unit: 'ms', better: 'lower' },
    { key: 'pollFirstStepP99Ms', label: `start→first step p99, polling only (${POLL_MS} ms)`, unit: 'ms', better: 'lower' },
    { key: 'listenFirstStepP50Ms', label: 'start→first step p50, PostgreSQL LISTEN (reference)', unit: 'ms', better: 'lower' },
    { key: 'redisSpeedup', label: 'start→first step p50: polling only / Redis', unit: '×', better: 'higher' },
    { key: 'redisStepToStepP50Ms', label: 'step→step p50, Redis', unit: 'ms', better: 'lower' },
    { key: 'pollStepToStepP50Ms', label: 'step→step p50, polling only', unit: 'ms', better: 'lower' },
  ],
  targets: [],
  async run(ctx) {
    const sagas = ctx.size(100, 5);
    const redisUrl = process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
    const prefix = `bench-wl-${Date.now().toString(36)}-${process.pid}:`;
    ctx.phase('creating database');
    const url = await ctx.createDatabase();
    const pool = createPool(url, { max: 2, types: numericTypes });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    const metrics: Metrics = { sagas, pollIntervalMs: POLL_MS, wakerCoalesceMs: 10 };
    for (const mode of MODES) Object.assign(metrics, await measureMode(ctx, url, mode, sagas, redisUrl, prefix));
    metrics.redisSpeedup = round((metrics.pollFirstStepP50Ms as number) / (metrics.redisFirstStepP50Ms as number));
    return metrics;
  },
};
