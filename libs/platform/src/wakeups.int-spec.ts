import { createPool } from '@app/database';
import { RedisCluster } from '../../../test/support/redis-cluster';
import { PlatformConfig } from './platform.config';
import { RedisSpecResources } from './testing/redis-spec-resources';
import { createSagaRuntime, createTenant, SagaRuntime, sagaStatus, startAgentProvisioning } from './testing/saga-runtime';
import { waitFor } from './testing/wait-for';
import { Waker, WORK_WAKE_CHANNEL } from './wakeups';
import { PlatformProjections, WorkerLifecycle } from './worker.module';

/**
 * Two executors on one database, as in two processes (each its own pool and its own bus
 * connections): a starter that only starts sagas (as the API does) and signals new work through
 * the Waker, and a worker wired by WorkerLifecycle with a long poll and no PostgreSQL LISTEN, so
 * that only a Redis wake-up can make it pick a saga up early. Redis is a redis-server of this
 * spec's own (it is killed here), then a 3-master Redis Cluster of its own (killed whole, and each
 * master restarted in turn).
 */
const POLL_MS = 5_000;
/** Picked up "at once": far below the poll interval. */
const AT_ONCE_MS = 1_000;
const TENANT = 'wake-acme';

describe.each([
  { where: 'one redis-server', cluster: false },
  { where: 'a 3-master Redis Cluster', cluster: true },
])('Redis wake-ups between a starter and a worker process, on $where', ({ cluster }) => {
  let env: RedisSpecResources;
  let starter: SagaRuntime;
  const lifecycles: WorkerLifecycle[] = [];
  let n = 0;

  /** A worker process: its own pool and bus, the executor polling every POLL_MS, woken by WorkerLifecycle. */
  const startWorker = async () => {
    const pool = createPool(env.tdb.url, { max: 4 });
    env.pools.push(pool);
    const bus = env.newBus();
    const worker = createSagaRuntime(pool, { listen: false, pollIntervalMs: POLL_MS, concurrency: 8, leaseMs: 10_000 });
    const config: PlatformConfig = {
      databaseUrl: env.tdb.url,
      redisUrl: env.redis.url,
      embedded: false,
      poolSize: 4,
      worker: { enabled: true, concurrency: 8, pollIntervalMs: POLL_MS, leaseMs: 10_000 },
      projections: { enabled: false, batchSize: 100 },
    };
    const lifecycle = new WorkerLifecycle(worker.executor, new PlatformProjections(pool, worker.store, config, bus), config, bus);
    lifecycles.push(lifecycle);
    await lifecycle.onApplicationBootstrap();
    return { worker, bus, lifecycle };
  };

  /** The worker has taken the saga up: it recorded something after SagaStarted (its first StepStarted). */
  const pickedUp = async (sagaId: string) => {
    const { rows } = await env.tdb.pool.query<{ v: string | null }>('select max(version) as v from events where stream_id = $1', [`saga-${sagaId}`]);
    return Number(rows[0].v ?? -1) >= 1;
  };

  /**
   * Starts a saga from the starter; resolves with the milliseconds from the committed start to the
   * worker taking it up, once the saga has also completed.
   */
  const startAndTime = async () => {
    const sagaId = await startAgentProvisioning(starter.executor, TENANT, `wake-agent-${n++}`);
    const t0 = Date.now();
    await waitFor(() => pickedUp(sagaId), { what: `saga ${sagaId} to be picked up`, timeoutMs: POLL_MS + 5_000, intervalMs: 10 });
    const elapsed = Date.now() - t0;
    await waitFor(async () => (await sagaStatus(starter.executor, sagaId)) === 'COMPLETED', { what: `saga ${sagaId} to complete` });
    return elapsed;
  };

  /** The worker's notification subscription is live on the (restarted) server, or on a node of the cluster. */
  const workerSubscribed = async () => (await env.redis.subscribers(`saga:__notify:${WORK_WAKE_CHANNEL}`)) >= 1;

  beforeAll(async () => {
    env = await RedisSpecResources.start({ poolSize: 4, cluster });
    env.beforeClose(async () => {
      for (const l of lifecycles) await l.onApplicationShutdown();
    });
    // The starter: what the API process runs (CoreModule wires onNewWork to the Waker the same way).
    const starterBus = env.newBus();
    const waker = new Waker(starterBus);
    starter = createSagaRuntime(env.tdb.pool, { listen: false, onNewWork: () => waker.signal(WORK_WAKE_CHANNEL) });
    await createTenant(starter, TENANT);
  }, 60_000);

  afterAll(async () => env?.close(), 60_000);

  describe('one worker, Redis up, then down, then back', () => {
    let lifecycle: WorkerLifecycle;
    beforeAll(async () => {
      ({ lifecycle } = await startWorker());
    });
    afterAll(async () => {
      await lifecycle.onApplicationShutdown();
      lifecycles.splice(lifecycles.indexOf(lifecycle), 1);
    });

    it('a saga started by the other process is picked up at once, well before the poll interval', async () => {
      // Three in a row: each start falls in the middle of the worker's 5 s sleep.
      for (let i = 0; i < 3; i++) expect(await startAndTime()).toBeLessThan(AT_ONCE_MS);
    }, 30_000);

    it('with Redis down, started sagas are still picked up by polling: nothing is lost', async () => {
      await env.redis.kill();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await startAgentProvisioning(starter.executor, TENANT, `wake-agent-${n++}`));
      await waitFor(
        async () => {
          for (const id of ids) if ((await sagaStatus(starter.executor, id)) !== 'COMPLETED') return false;
          return true;
        },
        // Within about one poll interval (plus the time to run them).
        { what: 'the sagas started while Redis is down to complete', timeoutMs: POLL_MS + 5_000, intervalMs: 50 },
      );
    }, 30_000);

    it('once Redis is back, wake-ups work again', async () => {
      await env.redis.restart();
      await waitFor(workerSubscribed, { what: 'the worker to subscribe again to its wake-up channel', timeoutMs: 15_000, intervalMs: 50 });
      // The starter's connection is ready again when a broker command goes through.
      await waitFor(async () => ((await env.buses[0].epoch()) ? true : false), { what: 'the starter bus to reconnect', timeoutMs: 15_000 });
      for (let i = 0; i < 2; i++) expect(await startAndTime()).toBeLessThan(AT_ONCE_MS);
    }, 40_000);

    // No failover (no replicas): the master comes back on its port with its slots and no data. The
    // worker's subscriber connection moves to another master (or finds its own again).
    if (cluster) {
      it('a master restarting in the middle, each in turn: wake-ups go on', async () => {
        const redis = env.redis as RedisCluster;
        for (let node = 0; node < redis.nodes.length; node++) {
          await redis.restartNode(node);
          await waitFor(workerSubscribed, { what: `the worker to be subscribed after master ${node} restarted`, timeoutMs: 15_000, intervalMs: 50 });
          await waitFor(async () => ((await env.buses[0].epoch()) ? true : false), { what: 'the starter bus to reach the cluster', timeoutMs: 15_000 });
          expect(await startAndTime()).toBeLessThan(AT_ONCE_MS);
        }
      }, 60_000);
    }
  });

  // The bus keeps notify listeners registered through an outage and subscribes them once Redis is back.
  describe('a worker that boots while Redis is down', () => {
    it('gets wake-ups once Redis is up', async () => {
      await env.redis.kill();
      await startWorker();
      await env.redis.restart();
      await waitFor(async () => ((await env.buses[0].epoch()) ? true : false), { what: 'the starter bus to reconnect', timeoutMs: 15_000 });
      // The bus reconnects within its 2 s backoff cap; give the subscription a little more.
      await waitFor(workerSubscribed, { what: 'the worker to subscribe to its wake-up channel', timeoutMs: 6_000, intervalMs: 50 });
      expect(await startAndTime()).toBeLessThan(AT_ONCE_MS);
    }, 40_000);
  });
});
