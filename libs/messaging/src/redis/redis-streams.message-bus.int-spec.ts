import { randomBytes } from 'crypto';
import { Redis } from 'ioredis';
import { createMessageBus } from '../message-bus.factory';
import { isMessagingError } from '../messaging.errors';
import { messageBusContract } from '../testing/message-bus.contract';
import { waitFor } from '../testing/wait-for';
import { BusKeys, RedisClient } from './redis-connection';
import { RedisStreamsMessageBus, RedisStreamsMessageBusOptions } from './redis-streams.message-bus';
import { RedisCluster } from '../../../../test/support/redis-cluster';
import { TcpProxy } from '../../../../test/support/tcp-proxy';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const TEST_TIMEOUT = 30_000;

/**
 * The same specs on the shared Redis server (REDIS_URL) and on a 3-master Redis Cluster of this file's
 * own (started here, torn down at the end), plus what only one of them can show.
 */
describe.each([
  { where: 'one Redis server', clustered: false },
  { where: 'a 3-master Redis Cluster', clustered: true },
])('Redis Streams bus on $where', ({ clustered }) => {
  let cluster: RedisCluster | undefined;
  let url: string;
  let admin: RedisClient;
  const prefixes: string[] = [];

  /** Each test works under keys of its own, so that test files run in parallel over one Redis. */
  function newPrefix(): string {
    const prefix = `test:messaging:${randomBytes(6).toString('hex')}:`;
    prefixes.push(prefix);
    return prefix;
  }

  /** The bus's keys under `prefix` (hash-tagged in a cluster). */
  const keysOf = (prefix: string) => new BusKeys(prefix, clustered);

  /** The topics the bus has recorded (a set on one server, a hash topic → stamp in a cluster). */
  const recordedTopics = (prefix: string) => (clustered ? admin.hkeys(keysOf(prefix).topics) : admin.smembers(keysOf(prefix).topics));

  async function removeKeys(prefix: string): Promise<void> {
    // The cluster is this file's own and goes at the end: nothing to remove there.
    if (clustered) return;
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  }

  function newBus(options: RedisStreamsMessageBusOptions = {}): RedisStreamsMessageBus {
    return new RedisStreamsMessageBus({ url, prefix: newPrefix(), ...options });
  }

  beforeAll(async () => {
    if (clustered) {
      cluster = await RedisCluster.start();
      url = cluster.url;
      admin = cluster.client();
    } else {
      url = REDIS_URL;
      admin = new Redis(REDIS_URL);
    }
  }, 60_000);

  afterAll(async () => {
    for (const prefix of prefixes) await removeKeys(prefix);
    admin?.disconnect();
    await cluster?.close();
  }, 60_000);

  messageBusContract(clustered ? 'redis cluster' : 'redis streams', async () => {
    const bus = newBus();
    return {
      bus,
      dispose: async () => {
        await bus.close();
        await removeKeys(bus.prefix);
      },
    };
  });

  describe('RedisStreamsMessageBus', () => {
    it('is what createMessageBus gives with a Redis URL', async () => {
      const bus = createMessageBus({ redisUrl: url, prefix: newPrefix() });
      expect(bus).toBeInstanceOf(RedisStreamsMessageBus);
      await bus.close();
    }, TEST_TIMEOUT);

    it('keeps one stream per topic under the prefix, trimmed to about maxLen, and records the topic', async () => {
      const bus = newBus({ maxLen: 100 });
      try {
        for (let i = 0; i < 12; i++) {
          await Promise.all([...Array(50).keys()].map((j) => bus.publish('load.test', { id: `m${i}-${j}`, payload: { i, j } })));
        }
        const length = await admin.xlen(keysOf(bus.prefix).stream('load.test'));
        expect(length).toBeGreaterThanOrEqual(100);
        expect(length).toBeLessThan(600);
        expect(await recordedTopics(bus.prefix)).toEqual(['load.test']);
      } finally {
        await bus.close();
      }
    }, TEST_TIMEOUT);

    it('takes the delivery count from Redis, across bus instances (processes)', async () => {
      const prefix = newPrefix();
      const first = new RedisStreamsMessageBus({ url, prefix });
      const second = new RedisStreamsMessageBus({ url, prefix });
      try {
        const seen: string[] = [];
        const options = { idleMs: 300, retryDelayMs: 0, maxDeliveries: 3 };
        const failing = async (name: string, deliveries: number) => {
          seen.push(`${name}:${deliveries}`);
          throw new Error(`${name} failed`);
        };
        await first.subscribe('billing.charge', 'payments', (m) => failing('first', m.deliveries), { ...options, consumer: 'first' });
        await second.subscribe('billing.charge', 'payments', (m) => failing('second', m.deliveries), { ...options, consumer: 'second' });
        await first.publish('billing.charge', { id: 'charge-1', payload: {} });

        const dead = await waitFor(async () => (await second.listDeadLetters({ limit: 10 })).items[0]);
        expect(dead).toMatchObject({ deliveries: 3, group: 'payments' });
        expect(seen.map((s) => Number(s.split(':')[1]))).toEqual([1, 2, 3]);
        expect(dead.reason).toMatch(/^(first|second) failed$/);
      } finally {
        await first.close();
        await second.close();
      }
    }, TEST_TIMEOUT);

    it('starts the groups again when Redis has lost the stream (flushed)', async () => {
      const bus = newBus();
      try {
        const got: string[] = [];
        await bus.subscribe('flush.test', 'g', async (m) => void got.push(m.id), { idleMs: 300 });
        await bus.publish('flush.test', { id: 'before', payload: {} });
        await waitFor(() => got.includes('before'));

        await admin.del(keysOf(bus.prefix).stream('flush.test'));
        await bus.publish('flush.test', { id: 'after', payload: {} });
        await waitFor(() => got.includes('after'));
        expect(got).toEqual(['before', 'after']);
      } finally {
        await bus.close();
      }
    }, TEST_TIMEOUT);

    // One server behind a TCP proxy (a cluster's nodes announce their own addresses: see the node restarts below).
    if (!clustered) it('rejects publishing at once while Redis is unreachable, and resumes subscriptions when it is back', async () => {
      const proxy = await TcpProxy.start(REDIS_URL);
      const prefix = newPrefix();
      const bus = new RedisStreamsMessageBus({
        url: proxy.urlFor(REDIS_URL),
        prefix,
        commandTimeoutMs: 1_000,
        maxReconnectDelayMs: 100,
        onError: () => undefined, // connection errors are the point of this test
      });
      // Another process, still connected, publishes during the outage.
      const direct = new RedisStreamsMessageBus({ url: REDIS_URL, prefix });
      try {
        const got: string[] = [];
        await bus.subscribe('outage.test', 'g', async (m) => void got.push(m.id), { idleMs: 1_000 });
        await bus.subscribe('outage.*', 'p', async (m) => void got.push(`pattern:${m.id}`), { idleMs: 1_000 });
        await bus.publish('outage.test', { id: 'before', payload: {} });
        await waitFor(() => got.includes('before') && got.includes('pattern:before'));

        await proxy.cut('refuse');
        await waitFor(async () => {
          const err = await bus.publish('outage.test', { id: 'lost', payload: {} }).then(() => undefined, (e: unknown) => e);
          return isMessagingError(err, 'BUS_UNAVAILABLE');
        });
        const startedAt = Date.now();
        await expect(bus.publish('outage.test', { id: 'lost', payload: {} })).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
        expect(Date.now() - startedAt).toBeLessThan(500);
        await direct.publish('outage.test', { id: 'during', payload: {} });

        await proxy.restore();
        // The caller retries from its checkpoint until the bus takes the message.
        await waitFor(() => bus.publish('outage.test', { id: 'after', payload: {} }).then(() => true, () => false));
        await waitFor(() => ['during', 'after', 'pattern:during', 'pattern:after'].every((id) => got.includes(id)));
        expect(got.filter((id) => id === 'lost')).toEqual([]);
      } finally {
        await bus.close();
        await direct.close();
        await proxy.close();
      }
    }, TEST_TIMEOUT);
  });

  if (clustered) describe('in the cluster', () => {
    /** A topic whose stream (under `prefix`) lives on the master `node`. */
    const topicOn = async (prefix: string, node: number, base: string) => {
      for (let i = 0; ; i++) {
        const topic = `${base}-${i}`;
        if ((await cluster!.nodeOf(keysOf(prefix).stream(topic))) === node) return topic;
      }
    };

    it('delivers, dead-letters and replays the messages of topics on every master through one pattern subscription', async () => {
      const bus = newBus();
      try {
        const topics = [await topicOn(bus.prefix, 0, 'spread.t'), await topicOn(bus.prefix, 1, 'spread.t'), await topicOn(bus.prefix, 2, 'spread.t')];
        let broken = true;
        const got: string[] = [];
        await bus.subscribe(
          'spread.*',
          'g',
          async (m) => {
            if (broken && m.id.startsWith('bad')) throw new Error(`refused ${m.id}`);
            got.push(`${m.topic}/${m.id}`);
          },
          { idleMs: 400, retryDelayMs: 0, maxDeliveries: 1 },
        );
        for (const t of topics) {
          await bus.publish(t, { id: `good-${t}`, payload: {} });
          await bus.publish(t, { id: `bad-${t}`, payload: {} });
        }
        const dead = await waitFor(async () => {
          const page = await bus.listDeadLetters({ limit: 10 });
          return page.items.length === 3 ? page.items : undefined;
        });
        expect(dead.map((d) => `${d.topic}/${d.message.id}`).sort()).toEqual(topics.map((t) => `${t}/bad-${t}`).sort());
        await waitFor(() => got.length === 3);

        broken = false;
        for (const d of dead) expect(await bus.replayDeadLetter(d.id)).toBe(true);
        await waitFor(() => got.length === 6);
        expect(got.sort()).toEqual(topics.flatMap((t) => [`${t}/bad-${t}`, `${t}/good-${t}`]).sort());
        expect((await bus.listDeadLetters({ limit: 10 })).items).toEqual([]);
        expect(await bus.replayDeadLetter(dead[0].id)).toBe(false);
      } finally {
        await bus.close();
      }
    }, TEST_TIMEOUT);

    it('keeps the epoch while nothing is lost; when the master of a topic restarts empty, the epoch changes and publishes under the old one are refused', async () => {
      const bus = newBus();
      const other = new RedisStreamsMessageBus({ url, prefix: bus.prefix, onError: () => undefined });
      try {
        // The topic lives away from the bus's own keys (the epoch itself survives the restart).
        const busNode = await cluster!.nodeOf(keysOf(bus.prefix).epoch);
        const node = (busNode + 1) % 3;
        const topic = await topicOn(bus.prefix, node, 'epoch.t');
        const before = await bus.epoch();
        await bus.publish(topic, { id: 'a', payload: {} }, { ifEpoch: before });
        await other.publish(await topicOn(bus.prefix, busNode, 'epoch.new'), { id: 'b', payload: {} });
        // A new topic is no loss.
        expect(await bus.epoch()).toBe(before);
        expect(await other.epoch()).toBe(before);

        await cluster!.restartNode(node);
        // Refused atomically (not merely unavailable while the client finds the node again).
        await waitFor(async () => {
          const err = await bus.publish(topic, { id: 'c', payload: {} }, { ifEpoch: before }).then(() => undefined, (e: unknown) => e);
          if (err === undefined) throw new Error('published under the old epoch');
          return isMessagingError(err, 'EPOCH_CHANGED');
        });
        const after = await bus.epoch();
        expect(after).not.toBe(before);
        expect(await other.epoch()).toBe(after);
        await bus.publish(topic, { id: 'd', payload: {} }, { ifEpoch: after });
        expect(await bus.epoch()).toBe(after);
      } finally {
        await bus.close();
        await other.close();
      }
    }, 60_000);

    it('goes on when a master restarts (no failover) in the middle, each master in turn: subscriptions, publishes and wake-ups', async () => {
      const bus = newBus();
      // Another process publishing and notifying.
      const publisher = new RedisStreamsMessageBus({ url, prefix: bus.prefix, onError: () => undefined });
      try {
        const topics = [await topicOn(bus.prefix, 0, 'restart.t'), await topicOn(bus.prefix, 1, 'restart.t'), await topicOn(bus.prefix, 2, 'restart.t')];
        const got = new Set<string>();
        for (const t of topics) await bus.subscribe(t, 'g', async (m) => void got.add(m.id), { idleMs: 1_000 });
        await bus.subscribe('restart.*', 'p', async (m) => void got.add(`pattern:${m.id}`), { idleMs: 1_000 });
        const woke: string[] = [];
        await bus.onNotify('wake', (payload) => woke.push(payload));
        const everyTopic = async (label: string) => {
          const ids = topics.map((t) => `${label}-${t}`);
          // The caller retries a publish until the bus takes it (as the relay does from its checkpoint).
          for (const [i, t] of topics.entries()) await waitFor(() => publisher.publish(t, { id: ids[i], payload: {} }).then(() => true, () => false));
          await waitFor(() => ids.every((id) => got.has(id) && got.has(`pattern:${id}`)), { what: `the messages ${label} to be delivered` });
          // Best effort: the listener's connection may be moving to another node; a later notification arrives.
          await waitFor(async () => {
            await publisher.notify('wake', label);
            return woke.includes(label);
          }, { what: `a wake-up ${label}`, intervalMs: 100 });
        };
        await everyTopic('before');
        for (const node of [0, 1, 2]) {
          await cluster!.restartNode(node);
          await everyTopic(`after-restart-of-${node}`);
        }
      } finally {
        await bus.close();
        await publisher.close();
      }
    }, 90_000);
  });
});
