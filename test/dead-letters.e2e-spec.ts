import { DeliveredMessage, MESSAGE_BUS, MessageBus, Subscription } from '@app/messaging';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';

const TOPIC = 'e2e.dead';
const PROBLEM = /application\/problem\+json/;

interface Item {
  id: string;
  topic: string;
  message: { id: string; payload: { tenantId?: string; n: number } };
  reason: string;
  deliveries: number;
  at: string;
}

describe('dead letters', () => {
  let ctx: E2eContext;
  let bus: MessageBus;
  let t: TenantKeys;
  let other: TenantKeys;
  let subscription: Subscription;
  let healthy = false;
  const handled: DeliveredMessage[] = [];
  const list = (key: string, query = '') => ctx.http().get(`/v1/dead-letters?topic=${TOPIC}${query}`).set(bearer(key));

  beforeAll(async () => {
    ctx = await startE2eApp();
    t = await ctx.tenant();
    other = await ctx.tenant();
    bus = ctx.app.get<MessageBus>(MESSAGE_BUS);
    // A consumer that fails every delivery until `healthy`: after two failures a message is dead-lettered.
    subscription = await bus.subscribe(
      TOPIC,
      'e2e-consumer',
      async (m) => {
        if (!healthy) throw new Error(`consumer down (message ${m.id})`);
        handled.push(m);
      },
      { maxDeliveries: 2, retryDelayMs: 10 },
    );
    await bus.publish(TOPIC, { id: 'm-1', key: 'a', payload: { tenantId: t.tenantId, n: 1 } });
    await bus.publish(TOPIC, { id: 'm-2', key: 'b', payload: { tenantId: t.tenantId, n: 2 } });
    await bus.publish(TOPIC, { id: 'm-3', key: 'c', payload: { tenantId: other.tenantId, n: 3 } });
    await bus.publish(TOPIC, { id: 'm-4', key: 'd', payload: { n: 4 } });
    await waitFor(async () => (await list(ctx.adminKey)).body.items?.length === 4);
  });
  afterAll(async () => {
    await subscription?.close();
    await ctx?.close();
  });

  it('GET /v1/dead-letters lists the tenant’s dead letters, oldest first; the admin key sees all', async () => {
    const res = await list(t.operator);
    expect(res.status).toBe(200);
    const items: Item[] = res.body.items;
    expect(items.map((d) => d.message.id)).toEqual(['m-1', 'm-2']);
    expect(items[0]).toEqual({
      id: expect.any(String),
      topic: TOPIC,
      message: { id: 'm-1', key: 'a', payload: { tenantId: t.tenantId, n: 1 }, headers: {} },
      reason: expect.stringContaining('consumer down'),
      deliveries: 2,
      at: expect.any(String),
    });
    expect(new Date(items[0].at).toISOString()).toBe(items[0].at);
    expect(res.body.nextCursor).toBeUndefined();

    expect((await list(other.operator)).body.items.map((d: Item) => d.message.id)).toEqual(['m-3']);
    expect((await list(ctx.adminKey)).body.items.map((d: Item) => d.message.id)).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
    expect((await ctx.http().get('/v1/dead-letters?topic=e2e.other').set(bearer(ctx.adminKey))).body.items).toEqual([]);
  });

  it('pages with limit and nextCursor', async () => {
    const first = await list(t.operator, '&limit=1');
    expect(first.body.items.map((d: Item) => d.message.id)).toEqual(['m-1']);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await list(t.operator, `&limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((d: Item) => d.message.id)).toEqual(['m-2']);
    const adminFirst = await list(ctx.adminKey, '&limit=3');
    const adminRest = await list(ctx.adminKey, `&limit=3&cursor=${adminFirst.body.nextCursor}`);
    expect([...adminFirst.body.items, ...adminRest.body.items].map((d: Item) => d.message.id)).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
    expect(adminRest.body.nextCursor).toBeUndefined();
  });

  it('validates the query (400), needs operator (403) and a key (401)', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=x', 'cursor=abc', 'topic=bad%20topic', 'topic=', 'group=g']) {
      const res = await ctx.http().get(`/v1/dead-letters?${q}`).set(bearer(t.operator));
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    expect((await ctx.http().get('/v1/dead-letters').set(bearer(t.client))).status).toBe(403);
    expect((await ctx.http().get('/v1/dead-letters')).status).toBe(401);
  });

  it('POST /v1/dead-letters/{id}/replay delivers the message again (202); unknown and foreign ids are 404', async () => {
    const [mine] = (await list(t.operator)).body.items as Item[];
    const theirs = ((await list(other.operator)).body.items as Item[])[0];

    expect((await ctx.http().post(`/v1/dead-letters/${mine.id}/replay`).set(bearer(t.client))).status).toBe(403);
    expect((await ctx.http().post(`/v1/dead-letters/${mine.id}/replay`)).status).toBe(401);
    const foreign = await ctx.http().post(`/v1/dead-letters/${theirs.id}/replay`).set(bearer(t.operator));
    expect(foreign.status).toBe(404);
    expect(foreign.headers['content-type']).toMatch(PROBLEM);
    expect((await ctx.http().post('/v1/dead-letters/999999/replay').set(bearer(t.operator))).status).toBe(404);
    expect((await ctx.http().post('/v1/dead-letters/not-an-id/replay').set(bearer(t.operator))).status).toBe(404);

    healthy = true;
    const res = await ctx.http().post(`/v1/dead-letters/${mine.id}/replay`).set(bearer(t.operator));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: mine.id, topic: TOPIC });
    await waitFor(async () => handled.some((m) => m.id === 'm-1'));
    expect(handled.find((m) => m.id === 'm-1')?.payload).toEqual({ tenantId: t.tenantId, n: 1 });
    expect((await list(t.operator)).body.items.map((d: Item) => d.message.id)).toEqual(['m-2']);
    // Replayed once: it is no longer a dead letter.
    expect((await ctx.http().post(`/v1/dead-letters/${mine.id}/replay`).set(bearer(t.operator))).status).toBe(404);
    // The admin key replays any tenant's, and messages of no tenant.
    const orphan = ((await list(ctx.adminKey)).body.items as Item[]).find((d) => d.message.id === 'm-4')!;
    expect((await ctx.http().post(`/v1/dead-letters/${orphan.id}/replay`).set(bearer(ctx.adminKey))).status).toBe(202);
    await waitFor(async () => handled.some((m) => m.id === 'm-4'));
  });
});
