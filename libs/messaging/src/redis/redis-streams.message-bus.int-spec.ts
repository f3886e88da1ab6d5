import { randomBytes } from 'crypto';
import { Redis } from 'ioredis';
import { createMessageBus } from '../message-bus.factory';
import { isMessagingError } from '../messaging.errors';
import { messageBusContract } from '../testing/message-bus.contract';
import { waitFor } from '../testing/wait-for';
import { RedisStreamsMessageBus, RedisStreamsMessageBusOptions } from './redis-streams.message-bus';
import { TcpProxy } from '../../../../test/support/tcp-proxy';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const TEST_TIMEOUT = 30_000;

let admin: Redis;
const prefixes: string[] = [];

/** Each test works under keys of its own, so that test files run in parallel over one Redis. */
function newPrefix(): string {
  const prefix = `test:messaging:${randomBytes(6).toString('hex')}:`;
  prefixes.push(prefix);
  return prefix;
}

async function removeKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

function newBus(options: RedisStreamsMessageBusOptions = {}): RedisStreamsMessageBus {
  return new RedisStreamsMessageBus({ url: REDIS_URL, prefix: newPrefix(), ...options });
}

beforeAll(() => {
  admin = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const prefix of prefixes) await removeKeys(prefix);
  await admin.quit();
});

messageBusContract('redis streams', async () => {
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
    const bus = createMessageBus({ redisUrl: REDIS_URL, prefix: newPrefix() });
    expect(bus).toBeInstanceOf(RedisStreamsMessageBus);
    await bus.close();
  }, TEST_TIMEOUT);

  it('keeps one stream per topic under the prefix, trimmed to about maxLen, and records the topic', async () => {
    const bus = newBus({ maxLen: 100 });
    try {
      for (let i = 0; i < 12; i++) {
        await Promise.all([...Array(50).keys()].map((j) => bus.publish('load.test', { id: `m${i}-${j}`, payload: { i, j } })));
      }
      const length = await admin.xlen(`${bus.prefix}load.test`);
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(600);
      expect(await admin.smembers(`${bus.prefix}__topics`)).toEqual(['load.test']);
    } finally {
      await bus.close();
    }
  }, TEST_TIMEOUT);

  it('takes the delivery count from Redis, across bus instances (processes)', async () => {
    const prefix = newPrefix();
    const first = new RedisStreamsMessageBus({ url: REDIS_URL, prefix });
    const second = new RedisStreamsMessageBus({ url: REDIS_URL, prefix });
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

      await admin.del(`${bus.prefix}flush.test`);
      await bus.publish('flush.test', { id: 'after', payload: {} });
      await waitFor(() => got.includes('after'));
      expect(got).toEqual(['before', 'after']);
    } finally {
      await bus.close();
    }
  }, TEST_TIMEOUT);

  it('rejects publishing at once while Redis is unreachable, and resumes subscriptions when it is back', async () => {
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
