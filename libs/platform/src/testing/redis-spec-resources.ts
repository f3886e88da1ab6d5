import { Pool } from 'pg';
import { createTestDatabase, dropTestDatabase, TestDatabase } from '@app/database';
import { createMessageBus, MessageBus } from '@app/messaging';
import { ProjectionRunner } from '@app/projections';
import { RedisCluster } from '../../../../test/support/redis-cluster';
import { IntegrationConsumer } from './integration-consumer';
import { RedisServer } from './redis-server';

/** The spec's own Redis: one redis-server, or a 3-master Redis Cluster (same url, kill, restart, flushAll, subscribers). */
export type SpecRedis = RedisServer | RedisCluster;

/**
 * A database and a redis-server (or a Redis Cluster) of the spec's own, and what the spec opens on
 * them, closed by `close()` in dependency order: whatever was registered with `beforeClose` (workers),
 * runners, consumers, buses, then Redis and the database.
 */
export class RedisSpecResources {
  readonly buses: MessageBus[] = [];
  readonly consumers: IntegrationConsumer[] = [];
  readonly runners: ProjectionRunner[] = [];
  /** Extra pools on the database, ended before it is dropped. */
  readonly pools: Pool[] = [];
  private readonly closeFirst: (() => Promise<unknown>)[] = [];
  private closed = false;

  private constructor(
    readonly tdb: TestDatabase,
    readonly redis: SpecRedis,
  ) {}

  static async start(options: { poolSize: number; cluster?: boolean }): Promise<RedisSpecResources> {
    const tdb = await createTestDatabase({ poolSize: options.poolSize });
    try {
      return new RedisSpecResources(tdb, options.cluster ? await RedisCluster.start() : await RedisServer.start());
    } catch (err) {
      await dropTestDatabase(tdb);
      throw err;
    }
  }

  /** A bus (connections) of its own on the spec's Redis, as a separate process would have. */
  newBus(): MessageBus {
    const bus = createMessageBus({ redisUrl: this.redis.url });
    this.buses.push(bus);
    return bus;
  }

  beforeClose(stop: () => Promise<unknown>): void {
    this.closeFirst.push(stop);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Redis must be up for the subscriptions to close cleanly (they give their consumer back).
    if (!this.redis.running) await this.redis.restart().catch(() => undefined);
    for (const stop of this.closeFirst) await stop();
    await Promise.all(this.runners.map((r) => r.stop()));
    await Promise.all(this.consumers.map((c) => c.close().catch(() => undefined)));
    await Promise.all(this.buses.map((b) => b.close().catch(() => undefined)));
    if (this.redis instanceof RedisCluster) await this.redis.close();
    else await this.redis.kill();
    await dropTestDatabase(this.tdb, this.pools);
  }
}
