import { randomUUID } from 'crypto';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { postSaga } from './support/sagas';

jest.setTimeout(120_000);

const PROBLEM = /application\/problem\+json/;

describe('sagas: operator actions and the compensation log', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;

  beforeAll(async () => ({ ctx, t, other } = await startE2eAppWithTenants()));
  afterAll(async () => ctx?.close());

  const get = (sagaId: string, key = t.client) => ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(key));
  const settle = (sagaId: string, status: string, timeoutMs = 60_000) =>
    waitFor(async () => {
      const res = await get(sagaId);
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    }, { timeoutMs });
  const startWorkflow = async (body: object, key = t.client) => {
    const res = await postSaga(ctx, key, 'task-workflow', body);
    expect(res.status).toBe(202);
    return res.body.sagaId as string;
  };

  it('cancels a running workflow (operator): 202, it stops and compensates what it completed; a second cancel is 422', async () => {
    const sagaId = await startWorkflow({
      name: 'slow',
      tasks: [
        { id: 'prepare', handler: 'echo', dependsOn: [], config: { ok: true }, compensation: { handler: 'noop' } },
        { id: 'wait', handler: 'delay', dependsOn: ['prepare'], config: { ms: 5000 } },
      ],
    });
    await waitFor(async () => (await get(sagaId)).body.steps?.find((s: { name: string }) => s.name === 'wait')?.status === 'RUNNING');

    // Who may cancel, and with what body.
    const path = `/v1/sagas/${sagaId}/cancel`;
    expect((await ctx.http().post(path).send({ reason: 'x' })).status).toBe(401);
    const asClient = await ctx.http().post(path).set(bearer(t.client)).send({ reason: 'x' });
    expect(asClient.status).toBe(403);
    expect(asClient.headers['content-type']).toMatch(PROBLEM);
    expect((await ctx.http().post(path).set(bearer(other.operator)).send({ reason: 'x' })).status).toBe(404);
    expect((await ctx.http().post(`/v1/sagas/${randomUUID()}/cancel`).set(bearer(t.operator)).send({ reason: 'x' })).status).toBe(404);
    expect((await ctx.http().post('/v1/sagas/nope/cancel').set(bearer(t.operator)).send({ reason: 'x' })).status).toBe(400);
    for (const body of [{}, { reason: '' }, { reason: 5 }, { reason: 'x', extra: 1 }, { reason: 'x'.repeat(1001) }]) {
      const res = await ctx.http().post(path).set(bearer(t.operator)).send(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    const deep = `{"reason":"x","extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect((await ctx.http().post(path).set(bearer(t.operator)).set('Content-Type', 'application/json').send(deep)).status).toBe(400);
    expect((await get(sagaId)).body.status).toBe('RUNNING'); // refusals changed nothing

    const started = Date.now();
    const res = await ctx.http().post(path).set(bearer(t.operator)).send({ reason: 'customer withdrew' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ sagaId, status: expect.stringMatching(/^COMPENSAT/) });
    const saga = await settle(sagaId, 'COMPENSATED');
    expect(Object.fromEntries(saga.steps.map((s: { name: string; status: string }) => [s.name, s.status]))).toMatchObject({ prepare: 'COMPENSATED' });

    const events = await ctx.http().get(`/v1/sagas/${sagaId}/events`).set(bearer(t.client));
    const cancel = events.body.events.find((e: { type: string }) => e.type === 'SagaCancelRequested');
    expect(cancel).toMatchObject({ data: { reason: 'customer withdrew', actor: expect.stringMatching(/^key:/) }, metadata: { actor: cancel.data.actor } });
    expect(Date.now() - started).toBeLessThan(30_000);

    const again = await ctx.http().post(path).set(bearer(t.operator)).send({ reason: 'again' });
    expect(again.status).toBe(422);
    expect(again.headers['content-type']).toMatch(PROBLEM);
  });

  describe('a saga stuck in COMPENSATION_FAILED', () => {
    let stuck: string;

    beforeAll(async () => {
      // `a` succeeds, `b` fails for good, then a's compensation (the `fail` handler) fails every
      // attempt (5, with backoff): the saga parks in COMPENSATION_FAILED for an operator.
      stuck = await startWorkflow({
        name: 'stuck',
        tasks: [
          { id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 }, compensation: { handler: 'fail', config: { message: 'cannot undo a' } } },
          { id: 'b', handler: 'fail', dependsOn: ['a'], retry: { maxAttempts: 1, backoffMs: 0 } },
        ],
      });
      await settle(stuck, 'COMPENSATION_FAILED');
    });

    it('shows the failed attempts in its compensation log', async () => {
      const comps = await ctx.http().get(`/v1/sagas/${stuck}/compensations`).set(bearer(t.client));
      expect(comps.status).toBe(200);
      expect(comps.body.status).toBe('COMPENSATION_FAILED');
      const failed = comps.body.entries.filter((e: { status: string }) => e.status === 'FAILED');
      expect(failed.map((e: { attempt: number }) => e.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect(failed[0]).toMatchObject({ step: 'a', error: expect.stringContaining('cannot undo a') });
    });

    it('lists failed compensations across the tenant (operator), paged, with the saga id; other tenants see none of them', async () => {
      const page = await waitFor(async () => {
        const res = await ctx.http().get('/v1/compensations?status=FAILED').set(bearer(t.operator));
        return res.status === 200 && res.body.items.filter((i: { sagaId: string }) => i.sagaId === stuck).length === 5 ? res.body : undefined;
      });
      expect(page.items[0]).toEqual({ sagaId: stuck, step: 'a', status: 'FAILED', attempt: 5, error: expect.stringContaining('cannot undo a'), at: expect.any(String) });
      expect(page.items.every((i: { status: string }) => i.status === 'FAILED')).toBe(true);

      // Newest first, one per page, no entry twice.
      const seen: number[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const res = await ctx.http().get('/v1/compensations').query({ status: 'FAILED', limit: 1, ...(cursor ? { cursor } : {}) }).set(bearer(t.operator));
        expect(res.status).toBe(200);
        seen.push(...res.body.items.map((e: { attempt: number }) => e.attempt));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual([5, 4, 3, 2, 1]);

      const all = await ctx.http().get('/v1/compensations?limit=500').set(bearer(t.operator));
      expect(all.body.items.map((i: { status: string }) => i.status)).toEqual(expect.arrayContaining(['STARTED', 'FAILED']));

      const foreign = await ctx.http().get('/v1/compensations').set(bearer(other.operator));
      expect(foreign.status).toBe(200);
      expect(foreign.body.items).toEqual([]);
      const admin = await ctx.http().get('/v1/compensations?status=FAILED').set(bearer(ctx.adminKey));
      expect(admin.body.items.some((i: { sagaId: string }) => i.sagaId === stuck)).toBe(true);

      expect((await ctx.http().get('/v1/compensations')).status).toBe(401);
      expect((await ctx.http().get('/v1/compensations').set(bearer(t.client))).status).toBe(403);
      for (const qs of ['status=BROKEN', 'limit=0', 'limit=501', 'cursor=zzz', 'other=1', `cursor=${Buffer.from(JSON.stringify(['2024-01-01T00:00:00.000000Z', stuck])).toString('base64url')}`]) {
        const res = await ctx.http().get(`/v1/compensations?${qs}`).set(bearer(t.operator));
        expect({ qs, status: res.status }).toEqual({ qs, status: 400 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
      }
    });

    it('refuses what does not fit the state: cancel (422), skip of another step (422), bad bodies (400), clients (403)', async () => {
      expect((await ctx.http().post(`/v1/sagas/${stuck}/cancel`).set(bearer(t.operator)).send({ reason: 'x' })).status).toBe(422);
      const wrongStep = await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(t.operator)).send({ step: 'b', reason: 'x' });
      expect(wrongStep.status).toBe(422);
      expect(wrongStep.headers['content-type']).toMatch(PROBLEM);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(t.operator)).send({ step: 'a' })).status).toBe(400);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(t.operator)).send({ reason: 'x' })).status).toBe(400);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/retry`).set(bearer(t.operator)).send({ reason: 7 })).status).toBe(400);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/retry`).set(bearer(t.client)).send({})).status).toBe(403);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(t.client)).send({ step: 'a', reason: 'x' })).status).toBe(403);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/retry`).set(bearer(other.operator)).send({})).status).toBe(404);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(other.operator)).send({ step: 'a', reason: 'x' })).status).toBe(404);
      expect((await get(stuck)).body.status).toBe('COMPENSATION_FAILED');
    });

    it('retries the stuck compensation (202), which fails again; then skip (202) → COMPENSATED with the skip in the log', async () => {
      const retried = await ctx.http().post(`/v1/sagas/${stuck}/retry`).set(bearer(t.operator)).send({ reason: 'one more time' });
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ sagaId: stuck, status: expect.stringMatching(/^COMPENSAT/) });
      // A retry with no body at all is fine too, once the saga is stuck again.
      await waitFor(async () => {
        const comps = await ctx.http().get(`/v1/sagas/${stuck}/compensations`).set(bearer(t.client));
        return comps.body.status === 'COMPENSATION_FAILED' && comps.body.entries.filter((e: { status: string }) => e.status === 'FAILED').length === 10;
      }, { timeoutMs: 60_000 });
      const bare = await ctx.http().post(`/v1/sagas/${stuck}/retry`).set(bearer(t.operator));
      expect(bare.status).toBe(202);
      await settle(stuck, 'COMPENSATION_FAILED');

      const skipped = await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(t.operator)).send({ step: 'a', reason: 'undone by hand' });
      expect(skipped.status).toBe(202);
      const saga = await settle(stuck, 'COMPENSATED');
      expect(saga.steps.find((s: { name: string }) => s.name === 'a').status).toBe('SKIPPED');

      const comps = await ctx.http().get(`/v1/sagas/${stuck}/compensations`).set(bearer(t.client));
      const last = comps.body.entries[comps.body.entries.length - 1];
      expect(last).toEqual({ step: 'a', status: 'SKIPPED', attempt: expect.any(Number), actor: expect.stringMatching(/^key:/), reason: 'undone by hand', at: expect.any(String) });
      const events = await ctx.http().get(`/v1/sagas/${stuck}/events`).set(bearer(t.client));
      expect(events.body.events.filter((e: { type: string }) => e.type === 'CompensationRetried')).toHaveLength(2);

      // Done: nothing more to retry or skip.
      expect((await ctx.http().post(`/v1/sagas/${stuck}/retry`).set(bearer(t.operator)).send({})).status).toBe(422);
      expect((await ctx.http().post(`/v1/sagas/${stuck}/skip`).set(bearer(t.operator)).send({ step: 'a', reason: 'x' })).status).toBe(422);
    });
  });
});
