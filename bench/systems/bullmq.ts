import { Queue, Worker } from 'bullmq';
import { failureSignal, jobPayload, OpenTaskQueue, redisUrl, refOf } from './task-queue';

/** IORedis options from REDIS_URL (BullMQ wants options or an instance, not a URL). */
function connectionOf(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : undefined,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Required by BullMQ workers (blocking commands must not fail after N retries).
    maxRetriesPerRequest: null,
  };
}

/**
 * W10 peer: BullMQ on the local Redis (REDIS_URL). `instances` Workers (each its own connections,
 * as separate processes would have) with `concurrency: perInstance`, a no-op processor; jobs added
 * with `Queue.addBulk` (one call per batch) and `removeOnComplete: true` (the finished job is
 * deleted, as graphile-worker does). A job is complete at the Worker's `completed` event, emitted
 * after moveToFinished (the Lua script that records it, and fetches the next job) has answered.
 * Keys live under a prefix of their own (`bench-w10-<stamp>-<pid>`), obliterated and deleted at the end.
 */
export const openBullmq: OpenTaskQueue = async (_ctx, shape, onComplete) => {
  const connection = connectionOf(redisUrl());
  const prefix = `bench-w10-${Date.now().toString(36)}-${process.pid}`;
  const name = 'w10';
  const queue = new Queue(name, { connection, prefix });
  const workers: Worker[] = [];
  const { failed, fail, error } = failureSignal();
  const close = async () => {
    await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
    try {
      const client = await queue.client;
      const scan = client.scan.bind(client) as unknown as (cursor: string, ...args: (string | number)[]) => Promise<[string, string[]]>;
      await queue.obliterate({ force: true }).catch(() => undefined);
      // Anything obliterate leaves (meta, events stream, worker keys).
      let cursor = '0';
      do {
        const [next, keys] = await scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== '0');
    } finally {
      await queue.close();
    }
  };
  try {
    await queue.waitUntilReady().catch((err: Error) => {
      throw new Error(`W10 bullmq: Redis at ${redisUrl()} not reachable (set REDIS_URL): ${err.message}`);
    });
    for (let w = 0; w < shape.instances; w++) {
      const worker = new Worker(name, async () => ({}), { connection, prefix, concurrency: shape.perInstance, autorun: true });
      worker.on('completed', (job) => onComplete(refOf(job.data), performance.now()));
      worker.on('failed', (job, err) => fail(new Error(`W10 bullmq: job ${job?.id} failed: ${err.message}`)));
      worker.on('error', (err) => fail(new Error(`W10 bullmq: worker error: ${err.message}`)));
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return {
    settings: { instances: shape.instances, concurrencyPerInstance: shape.perInstance, batch: shape.batchSize, removeOnComplete: true },
    failed,
    async enqueue(phase, _batch, first, count) {
      const e = error();
      if (e) throw e;
      await queue.addBulk(
        Array.from({ length: count }, (_, k) => ({ name: 'noop', data: jobPayload(phase, first + k), opts: { removeOnComplete: true } })),
      );
    },
    async verify() {
      const e = error();
      if (e) throw e;
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
      const left = Object.values(counts).reduce((a, b) => a + b, 0);
      if (left) throw new Error(`W10 bullmq: jobs left after the run: ${JSON.stringify(counts)}`);
    },
    close,
  };
};
