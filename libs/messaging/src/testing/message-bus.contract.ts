import { DeadLetterQuery, DeliveredMessage, MessageBus, MessageHandler, SubscribeOptions } from '../message-bus.port';
import { isMessagingError } from '../messaging.errors';
import { deferred, waitFor } from './wait-for';

export interface MessageBusFixture {
  bus: MessageBus;
  /** Closes the bus and removes what it left in the broker. */
  dispose(): Promise<void>;
}

const TEST_TIMEOUT = 30_000;
/** Short enough for tests; redelivery after a failure is immediate. */
const FAST = { idleMs: 400, retryDelayMs: 0 } as const;

/** Yields to the event loop a few times, so that handlers of different messages interleave. */
async function jitter(): Promise<void> {
  const turns = Math.floor(Math.random() * 4);
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The behaviour every MessageBus adapter owes its users. Declares jest tests; `createFixture` gives each
 * test a fresh bus over a namespace of its own.
 */
export function messageBusContract(adapter: string, createFixture: () => Promise<MessageBusFixture>): void {
  describe(`MessageBus contract (${adapter})`, () => {
    let fixture: MessageBusFixture;
    let bus: MessageBus;

    beforeEach(async () => {
      fixture = await createFixture();
      bus = fixture.bus;
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    /** A test of the contract, with the time a broker round trip may take. */
    const behaviour = (name: string, fn: () => Promise<void>) => it(name, fn, TEST_TIMEOUT);

    /** The dead letters (first page of 10 unless `query` says otherwise). */
    const deadLetters = async (query: Partial<DeadLetterQuery> = {}) => (await bus.listDeadLetters({ limit: 10, ...query })).items;
    const firstDeadLetter = () => waitFor(async () => (await deadLetters())[0]);

    /**
     * Subscribes `handler` to the message `id` alone; the others are acknowledged and listed in the array
     * returned, so that a later message of the same key shows when `id` is done with (see `goesThrough`).
     */
    const subscribeFor = async (topic: string, group: string, id: string, handler: MessageHandler, options: SubscribeOptions) => {
      const others: string[] = [];
      await bus.subscribe(topic, group, async (m) => (m.id === id ? handler(m) : void others.push(m.id)), options);
      return others;
    };
    const goesThrough = async (topic: string, message: { id: string; key?: string }, handled: string[]) => {
      await bus.publish(topic, { ...message, payload: {} });
      await waitFor(() => handled.includes(message.id));
    };

    /** A consumer of the `runners` group on `task.started`, fast to give up on a silent consumer. */
    const runner = (consumer: string, handler: MessageHandler, options: SubscribeOptions = {}) =>
      bus.subscribe('task.started', 'runners', handler, { ...FAST, consumer, ...options });
    /** The consumer `dying` takes the message and never answers (its process died mid-handler), then stops. */
    const dieHandling = async (id: string, payload: unknown, options: SubscribeOptions = {}) => {
      const stuck = deferred<DeliveredMessage>();
      const dying = await runner(
        'dying',
        async (m) => {
          stuck.resolve(m);
          await new Promise(() => undefined); // never answers
        },
        options,
      );
      await bus.publish('task.started', { id, payload });
      const delivered = await stuck.promise;
      await dying.close();
      return delivered;
    };

    behaviour('delivers a message with its topic, key, payload and headers', async () => {
      const got: DeliveredMessage[] = [];
      await bus.subscribe('orders.placed', 'billing', async (m) => void got.push(m));

      await bus.publish('orders.placed', {
        id: 'm1',
        key: 'order-1',
        payload: { total: 12.5, lines: [{ sku: 'a', qty: 2 }] },
        headers: { tenantId: 't1', correlationId: 'c1' },
      });
      await bus.publish('orders.placed', { id: 'm2', payload: null });

      await waitFor(() => got.length === 2);
      const byId = Object.fromEntries(got.map((m) => [m.id, m]));
      expect(byId.m1).toEqual({
        id: 'm1',
        topic: 'orders.placed',
        key: 'order-1',
        payload: { total: 12.5, lines: [{ sku: 'a', qty: 2 }] },
        headers: { tenantId: 't1', correlationId: 'c1' },
        deliveries: 1,
      });
      expect(byId.m2).toEqual({ id: 'm2', topic: 'orders.placed', payload: null, headers: {}, deliveries: 1 });
    });

    behaviour('delivers the messages of each key in publish order', async () => {
      const seen = new Map<string, number[]>();
      await bus.subscribe(
        'saga.step_succeeded',
        'projector',
        async (m) => {
          await jitter();
          const list = seen.get(m.key!) ?? [];
          list.push((m.payload as { seq: number }).seq);
          seen.set(m.key!, list);
        },
        { batchSize: 7 },
      );

      const keys = ['saga-a', 'saga-b', 'saga-c'];
      for (let seq = 0; seq < 20; seq++) {
        for (const key of keys) await bus.publish('saga.step_succeeded', { id: `${key}-${seq}`, key, payload: { seq } });
      }

      await waitFor(() => keys.every((k) => seen.get(k)?.length === 20));
      for (const key of keys) expect(seen.get(key)).toEqual([...Array(20).keys()]);
    });

    behaviour('gives every message to each group', async () => {
      const a: string[] = [];
      const b: string[] = [];
      await bus.subscribe('saga.started', 'group-a', async (m) => void a.push(m.id));
      await bus.subscribe('saga.started', 'group-b', async (m) => void b.push(m.id));

      const ids = ['s1', 's2', 's3', 's4', 's5'];
      for (const id of ids) await bus.publish('saga.started', { id, key: 'k', payload: {} });

      await waitFor(() => a.length === 5 && b.length === 5);
      expect(a).toEqual(ids);
      expect(b).toEqual(ids);
    });

    behaviour('shares the messages of one group between its consumers, each message to one of them', async () => {
      const byConsumer: Record<string, string[]> = { one: [], two: [] };
      const handler = (name: string) => async (m: DeliveredMessage) => {
        byConsumer[name].push(m.id);
        // Hold on until both consumers have had a message: neither can take them all.
        await waitFor(() => byConsumer.one.length > 0 && byConsumer.two.length > 0);
      };
      await bus.subscribe('task.scheduled', 'workers', handler('one'), { consumer: 'one', batchSize: 1 });
      await bus.subscribe('task.scheduled', 'workers', handler('two'), { consumer: 'two', batchSize: 1 });

      const ids = [...Array(10).keys()].map((i) => `t${i}`);
      for (const id of ids) await bus.publish('task.scheduled', { id, payload: {} });

      await waitFor(() => byConsumer.one.length + byConsumer.two.length === 10);
      expect(byConsumer.one.length).toBeGreaterThan(0);
      expect(byConsumer.two.length).toBeGreaterThan(0);
      expect([...byConsumer.one, ...byConsumer.two].sort()).toEqual([...ids].sort());
    });

    behaviour('starts a new group after what was already published, and keeps a group backlog while no consumer listens', async () => {
      await bus.publish('agent.registered', { id: 'before', payload: {} });
      const got: string[] = [];
      const first = await bus.subscribe('agent.registered', 'directory', async (m) => void got.push(m.id));
      await bus.publish('agent.registered', { id: 'first', payload: {} });
      await waitFor(() => got.includes('first'));
      // One topic, no key: had "before" been delivered, it would have come first.
      expect(got).toEqual(['first']);

      await first.close();
      await bus.publish('agent.registered', { id: 'while-away', payload: {} });
      await bus.subscribe('agent.registered', 'directory', async (m) => void got.push(m.id));
      await waitFor(() => got.includes('while-away'));
      expect(got).toEqual(['first', 'while-away']);
    });

    behaviour('redelivers a message whose handler threw, counting its deliveries', async () => {
      const deliveries: number[] = [];
      const others = await subscribeFor(
        'task.completed',
        'notifier',
        'flaky',
        async (m) => {
          deliveries.push(m.deliveries);
          if (m.deliveries === 1) throw new Error('database timeout');
        },
        FAST,
      );

      await bus.publish('task.completed', { id: 'flaky', key: 'k1', payload: {} });
      await waitFor(() => deliveries.length === 2);
      // Acknowledged at the second delivery: a later message goes through and the first does not come back.
      await goesThrough('task.completed', { id: 'later', key: 'k1' }, others);
      expect(deliveries).toEqual([1, 2]);
      expect(await deadLetters()).toEqual([]);
    });

    behaviour('moves a message to the dead letters after maxDeliveries failed deliveries, with the reason and the count', async () => {
      const attempts: number[] = [];
      const others = await subscribeFor(
        'saga.compensating',
        'mailer',
        'poison',
        async (m) => {
          attempts.push(m.deliveries);
          throw new Error(`smtp refused (attempt ${m.deliveries})`);
        },
        { ...FAST, maxDeliveries: 3 },
      );

      const before = new Date().toISOString();
      await bus.publish('saga.compensating', { id: 'poison', key: 'saga-9', payload: { n: 1 }, headers: { tenantId: 't9' } });
      const page = await waitFor(async () => {
        const p = await bus.listDeadLetters({ limit: 10 });
        return p.items.length === 1 ? p : undefined;
      });

      expect(page.items[0]).toEqual({
        id: expect.any(String),
        topic: 'saga.compensating',
        group: 'mailer',
        message: { id: 'poison', key: 'saga-9', payload: { n: 1 }, headers: { tenantId: 't9' } },
        reason: 'smtp refused (attempt 3)',
        deliveries: 3,
        at: expect.any(String),
      });
      expect(page.items[0].at >= before).toBe(true);
      expect(page.nextCursor).toBeUndefined();

      // Dead-lettered means acknowledged: no fourth delivery once a later message has gone through.
      await goesThrough('saga.compensating', { id: 'after', key: 'saga-9' }, others);
      expect(attempts).toEqual([1, 2, 3]);
      expect(await deadLetters({ topic: 'saga.compensating' })).toHaveLength(1);
      expect(await deadLetters({ topic: 'saga.completed' })).toEqual([]);
    });

    behaviour('pages through the dead letters with a cursor, optionally for one topic', async () => {
      await bus.subscribe(
        'audit.*',
        'archiver',
        async (m) => {
          throw new Error(`cannot archive ${m.id}`);
        },
        { ...FAST, maxDeliveries: 1 },
      );
      await bus.publish('audit.login', { id: 'a1', payload: {} });
      await bus.publish('audit.login', { id: 'a2', payload: {} });
      await bus.publish('audit.logout', { id: 'a3', payload: {} });
      await waitFor(async () => (await deadLetters()).length === 3);

      const first = await bus.listDeadLetters({ limit: 2 });
      expect(first.items).toHaveLength(2);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await bus.listDeadLetters({ limit: 2, cursor: first.nextCursor });
      expect(second.items).toHaveLength(1);
      expect(second.nextCursor).toBeUndefined();
      const all = [...first.items, ...second.items];
      expect(all.map((d) => d.message.id).sort()).toEqual(['a1', 'a2', 'a3']);
      expect(all.find((d) => d.message.id === 'a3')).toMatchObject({ topic: 'audit.logout', reason: 'cannot archive a3', deliveries: 1 });

      const logins = await bus.listDeadLetters({ topic: 'audit.login', limit: 10 });
      expect(logins.items.map((d) => d.message.id)).toEqual(['a1', 'a2']);
      await expect(bus.listDeadLetters({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    behaviour('replays a dead letter: delivered again as a new message and removed from the dead letters', async () => {
      let broken = true;
      const delivered: DeliveredMessage[] = [];
      await bus.subscribe(
        'task.failed',
        'alerts',
        async (m) => {
          delivered.push(m);
          if (broken) throw new Error('pager down');
        },
        { ...FAST, maxDeliveries: 1 },
      );
      await bus.publish('task.failed', { id: 'alert-1', key: 'task-1', payload: { severity: 'high' }, headers: { h: 'v' } });
      const dead = await firstDeadLetter();

      broken = false;
      expect(await bus.replayDeadLetter(dead.id)).toBe(true);
      await waitFor(() => delivered.length === 2);
      expect(delivered[1]).toEqual({
        id: 'alert-1',
        topic: 'task.failed',
        key: 'task-1',
        payload: { severity: 'high' },
        headers: { h: 'v' },
        deliveries: 1,
      });
      expect(await deadLetters()).toEqual([]);
      expect(await bus.replayDeadLetter(dead.id)).toBe(false);
      expect(await bus.replayDeadLetter('no-such-dead-letter')).toBe(false);
    });

    behaviour('delivers every topic matching a pattern, including one first published after subscribing', async () => {
      await bus.publish('saga.started', { id: 'before', payload: {} });
      const got: DeliveredMessage[] = [];
      await bus.subscribe('saga.*', 'timeline', async (m) => void got.push(m));

      await bus.publish('saga.started', { id: 'started-1', payload: {} });
      await bus.publish('saga.completed', { id: 'completed-1', payload: {} });
      await bus.publish('agent.started', { id: 'not-a-saga', payload: {} });
      await bus.publish('saga.completed', { id: 'completed-2', payload: {} });

      await waitFor(() => got.length >= 3);
      expect(got.map((m) => `${m.topic}/${m.id}`).sort()).toEqual([
        'saga.completed/completed-1',
        'saga.completed/completed-2',
        'saga.started/started-1',
      ]);
    });

    behaviour('gives the unacknowledged messages of a consumer that stopped to another consumer of its group after idleMs', async () => {
      expect((await dieHandling('job-1', { n: 1 })).deliveries).toBe(1);

      const got: DeliveredMessage[] = [];
      const startedAt = Date.now();
      await runner('survivor', async (m) => void got.push(m));
      await waitFor(() => got.length === 1);
      expect(got[0]).toMatchObject({ id: 'job-1', payload: { n: 1 }, deliveries: 2 });
      expect(Date.now() - startedAt).toBeLessThan(FAST.idleMs * 10);
      expect(await deadLetters()).toEqual([]);
    });

    behaviour('dead-letters a message that its consumers keep dying on, once it has had maxDeliveries deliveries', async () => {
      await dieHandling('crasher', {}, { maxDeliveries: 1 });

      const handled: string[] = [];
      await runner('survivor', async (m) => void handled.push(m.id), { maxDeliveries: 1 });
      const dead = await firstDeadLetter();
      expect(dead).toMatchObject({ topic: 'task.started', group: 'runners', message: { id: 'crasher' }, deliveries: 1 });
      expect(dead.reason).toMatch(/not acknowledged/);
      // Acknowledged by the dead-lettering: a later message goes through and the crasher does not come back.
      await goesThrough('task.started', { id: 'fine' }, handled);
      expect(handled).toEqual(['fine']);
    });

    behaviour('fans a notification out to the listeners of its channel until they close', async () => {
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      const la = await bus.onNotify('work-due', (p) => a.push(p));
      await bus.onNotify('work-due', (p) => b.push(p));
      await bus.onNotify('other', (p) => other.push(p));

      await bus.notify('work-due', 'saga-1');
      await waitFor(() => a.length === 1 && b.length === 1);
      await la.close();
      await bus.notify('work-due', 'saga-2');
      await waitFor(() => b.length === 2);

      expect(a).toEqual(['saga-1']);
      expect(b).toEqual(['saga-1', 'saga-2']);
      expect(other).toEqual([]);
    });

    behaviour('rejects malformed topics, groups and messages, and use after close', async () => {
      const handler = async () => undefined;
      await expect(bus.publish('', { id: 'x', payload: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(bus.publish('saga.*', { id: 'x', payload: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(bus.publish('__internal', { id: 'x', payload: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(bus.publish('ok', { id: '', payload: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(bus.subscribe('ok', 'bad group', handler)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(bus.subscribe('ok', 'g', handler, { maxDeliveries: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

      await bus.close();
      const err = await bus.publish('ok', { id: 'x', payload: {} }).catch((e: unknown) => e);
      expect(isMessagingError(err, 'BUS_CLOSED')).toBe(true);
    });
  });
}
