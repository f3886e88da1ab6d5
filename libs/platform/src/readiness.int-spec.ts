import { E2eContext, startE2eApp } from '../../../test/support/e2e-app';
import { RedisServer } from './testing/redis-server';
import { waitFor } from './testing/wait-for';

/** GET /ready of the full application (API + worker) on a Redis of this spec's own, which is killed here. */
describe('GET /ready with Redis', () => {
  let redis: RedisServer;
  let ctx: E2eContext;

  beforeAll(async () => {
    redis = await RedisServer.start();
    ctx = await startE2eApp({ redis: true, redisUrl: redis.url, poolSize: 4 });
  }, 60_000);

  afterAll(async () => {
    if (redis && !redis.running) await redis.restart().catch(() => undefined);
    await ctx?.close();
    await redis?.kill();
  }, 60_000);

  it('is 200 with Redis up', async () => {
    const res = await ctx.http().get('/ready');
    expect(res.status).toBe(200);
  });

  // /ready checks Redis with a real round trip (the broker epoch), not with notify (which never rejects).
  it('is 503 naming redis while Redis is down, and 200 again once it is back', async () => {
    await redis.kill();
    let down = await ctx.http().get('/ready');
    await waitFor(async () => (down = await ctx.http().get('/ready')).status === 503, {
      what: () => `/ready to answer 503 (last: ${down.status})`,
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(down.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(down.text).detail).toMatch(/redis/);
    await redis.restart();
    await waitFor(async () => (await ctx.http().get('/ready')).status === 200, { what: '/ready to answer 200 again', timeoutMs: 15_000, intervalMs: 100 });
  }, 30_000);
});
