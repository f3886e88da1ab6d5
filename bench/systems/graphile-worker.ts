import { EventEmitter } from 'events';
import { Logger, makeWorkerUtils, run, Runner, runMigrations, WorkerEvents } from 'graphile-worker';
import { failureSignal, jobPayload, OpenTaskQueue, refOf } from './task-queue';

/**
 * Connections per graphile-worker runner (BENCH_W10_GRAPHILE_POOL). One of them holds the runner's
 * LISTEN. graphile-worker suggests max(10, concurrency + 2), but 8 runners × 18 do not fit a
 * 100-connection server shared with other work; see bench/README.md for the figures this was chosen on.
 */
export const DEFAULT_GRAPHILE_POOL = 4;

const SCHEMA = 'graphile_worker';

/**
 * W10 peer: graphile-worker on a fresh database of the benchmark server (its default schema
 * `graphile_worker`, migrated by runMigrations). `instances` runners (`run()`, each its own pool as
 * separate processes would have) with `concurrency: perInstance` and `localQueue.size: perInstance`
 * (one query locks up to 16 jobs, as an agent's poll takes up to 16 tasks); a no-op task; jobs added
 * with WorkerUtils.addJobs (one call per batch). New jobs reach the runners by LISTEN/NOTIFY.
 *
 * graphile-worker does not await its completion: the `job:complete` event (our completion time) comes
 * when the task has returned and the DELETE of the job has been issued, not answered. So that
 * throughput counts durable work, `settle()` waits until the jobs table is empty after the last
 * `job:complete` and the run ends then.
 */
export const openGraphileWorker: OpenTaskQueue = async (ctx, shape, onComplete) => {
  const poolSize = Number(process.env.BENCH_W10_GRAPHILE_POOL) || DEFAULT_GRAPHILE_POOL;
  ctx.phase('creating database');
  const url = await ctx.createDatabase();
  const { failed, fail, error: failure } = failureSignal();
  // Quiet below warnings (the default logger prints a line per job); the pool-size warning is the
  // documented choice above, printed once per runner otherwise.
  const logger = new Logger(() => (level, message) => {
    if (/maxPoolSize \(\d+\) smaller than concurrency/.test(message)) return;
    if (level === 'error' || level === 'warning') ctx.log(`graphile-worker ${level}: ${message}`);
  });
  ctx.phase('setup');
  await runMigrations({ connectionString: url, logger });
  const utils = await makeWorkerUtils({ connectionString: url, maxPoolSize: poolSize, logger });
  const runners: Runner[] = [];
  const close = async () => {
    await Promise.all(runners.map((r) => r.stop().catch(() => undefined)));
    await utils.release();
  };
  try {
    for (let w = 0; w < shape.instances; w++) {
      const events: WorkerEvents = new EventEmitter();
      events.on('job:complete', ({ job, error }) => {
        if (error) fail(new Error(`W10 graphile-worker: job ${job.id} failed: ${(error as Error).message ?? error}`));
        else onComplete(refOf(job.payload), performance.now());
      });
      events.on('pool:fatalError', ({ error }) => fail(new Error(`W10 graphile-worker: ${(error as Error).message ?? error}`)));
      runners.push(
        await run({
          connectionString: url,
          maxPoolSize: poolSize,
          concurrency: shape.perInstance,
          noHandleSignals: true,
          logger,
          events,
          taskList: { noop: async () => undefined },
          preset: { worker: { localQueue: { size: shape.perInstance } } },
        }),
      );
    }
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  const jobsLeft = () => utils.withPgClient(async (client) => Number((await client.query(`select count(*) as n from ${SCHEMA}._private_jobs`)).rows[0].n));
  return {
    settings: {
      instances: shape.instances,
      concurrencyPerInstance: shape.perInstance,
      batch: shape.batchSize,
      localQueueSize: shape.perInstance,
      poolPerRunner: poolSize,
    },
    failed,
    async enqueue(phase, _batch, first, count) {
      if (failure()) throw failure();
      await utils.addJobs(Array.from({ length: count }, (_, k) => ({ identifier: 'noop', payload: jobPayload(phase, first + k) })));
    },
    async settle() {
      for (;;) {
        if (failure()) throw failure();
        if ((await jobsLeft()) === 0) return performance.now();
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    async verify() {
      if (failure()) throw failure();
      const left = await jobsLeft();
      if (left) throw new Error(`W10 graphile-worker: ${left} jobs left after the run`);
    },
    close,
  };
};
