import { randomUUID } from 'crypto';
import { createTestDatabase, TestDatabase, waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';
import { postSaga, provisioningBody } from './support/sagas';
import { OutageMode, TcpProxy } from './support/tcp-proxy';

jest.setTimeout(120_000);

const PROBLEM = /^application\/problem\+json/;

/**
 * API.md: "503 — database unreachable (the process stays up and recovers by itself)". The app (API
 * and worker) reaches its database through a TCP proxy that the test cuts and restores.
 */
describe('resilience: PostgreSQL unreachable', () => {
  let target: TestDatabase;
  let proxy: TcpProxy;
  let ctx: E2eContext;
  let t: TenantKeys;
  let sagaId: string;
  /** Every saga the API accepted (202), before, between and after the outages. */
  const accepted = new Set<string>();

  interface Probe {
    name: string;
    send: () => Promise<{ status: number; headers: Record<string, string>; text: string }>;
    /** Answer while the database is there. */
    ok: number;
  }
  let probes: Probe[];

  beforeAll(async () => {
    target = await createTestDatabase({ poolSize: 1 });
    proxy = await TcpProxy.start();
    ctx = await startE2eApp({ databaseUrl: proxy.urlFor(target.url) });
    t = await ctx.tenant();
    const started = await postSaga(ctx, t.client, 'agent-provisioning', provisioningBody());
    expect(started.status).toBe(202);
    sagaId = started.body.sagaId;
    accepted.add(sagaId);
    const http = () => ctx.http();
    probes = [
      { name: 'GET /v1/sagas (client)', ok: 200, send: () => http().get('/v1/sagas').set(bearer(t.client)) },
      { name: 'GET /v1/sagas/{id}', ok: 200, send: () => http().get(`/v1/sagas/${sagaId}`).set(bearer(t.client)) },
      { name: 'GET /v1/sagas/{id}/events', ok: 200, send: () => http().get(`/v1/sagas/${sagaId}/events`).set(bearer(t.client)) },
      {
        name: 'POST /v1/sagas/agent-provisioning',
        ok: 202,
        send: async () => {
          const res = await http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).send(provisioningBody());
          if (res.status === 202) accepted.add(res.body.sagaId);
          return res;
        },
      },
      { name: 'GET /v1/agents', ok: 200, send: () => http().get('/v1/agents').set(bearer(t.client)) },
      { name: 'GET /v1/stats/sagas', ok: 200, send: () => http().get('/v1/stats/sagas').set(bearer(t.client)) },
      { name: 'GET /v1/events (operator)', ok: 200, send: () => http().get('/v1/events?limit=5').set(bearer(t.operator)) },
      {
        name: 'POST /v1/streams/{id}/events (operator)',
        ok: 201,
        send: () =>
          http()
            .post(`/v1/streams/orders-${randomUUID()}/events`)
            .set(bearer(t.operator))
            .send({ expectedVersion: 'no_stream', events: [{ type: 'OrderPlaced', data: { total: 1 } }] }),
      },
      { name: 'GET /v1/projections (operator)', ok: 200, send: () => http().get('/v1/projections').set(bearer(t.operator)) },
      // The admin key is checked in memory; the route itself needs the database.
      { name: 'GET /v1/tenants/{id} (admin key)', ok: 200, send: () => http().get(`/v1/tenants/${t.tenantId}`).set(bearer(ctx.adminKey)) },
      { name: 'GET /ready', ok: 200, send: () => http().get('/ready') },
    ];
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await ctx?.close().catch(() => undefined);
    await proxy?.close();
    await target?.drop();
  });

  const answers = async () => Promise.all(probes.map(async (p) => ({ probe: p, res: await p.send() })));

  const expectAllOk = async () => {
    const results = await answers();
    const wrong = results.filter(({ probe, res }) => res.status !== probe.ok).map(({ probe, res }) => `${probe.name}: ${res.status} ${res.text.slice(0, 200)}`);
    expect(wrong).toEqual([]);
  };

  /** Every probe answers 503 problem+json (none 500, none hangs); /health stays 200. */
  const expectUnavailable = async () => {
    const results = await answers();
    const wrong = results
      .filter(({ res }) => {
        if (res.status !== 503 || !PROBLEM.test(res.headers['content-type'] ?? '')) return true;
        const body = JSON.parse(res.text);
        return body.status !== 503 || typeof body.type !== 'string' || typeof body.title !== 'string' || typeof body.detail !== 'string';
      })
      .map(({ probe, res }) => `${probe.name}: ${res.status} ${res.headers['content-type']} ${res.text.slice(0, 200)}`);
    expect(wrong).toEqual([]);

    const health = await ctx.http().get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    // The scrape of the process metrics does not need the database either.
    const metrics = await ctx.http().get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# HELP /m);
    // Without a key nothing needs the database: still a 401.
    const anonymous = await ctx.http().get('/v1/sagas');
    expect(anonymous.status).toBe(401);
    // An unknown key cannot be told from a valid one without the database: 503, not 401.
    const unknown = await ctx.http().get('/v1/sagas').set(bearer(`sk_${randomUUID()}`));
    expect(unknown.status).toBe(503);
    expect(unknown.headers['content-type']).toMatch(PROBLEM);
  };

  /** After `restore()` the same requests succeed again, without restarting anything. */
  const expectRecovery = async () => {
    await waitFor(async () => {
      const results = await answers();
      return results.every(({ probe, res }) => res.status === probe.ok);
    }, { timeoutMs: 30_000, intervalMs: 250 });
    await expectAllOk();
  };

  it('answers 2xx while the database is there', async () => {
    await expectAllOk();
  });

  it.each<[OutageMode, string]>([
    ['refuse', 'refuses connections'],
    ['reset', 'drops every connection at once'],
  ])('answers 503 problem+json while the database %s (%s), then recovers by itself', async (mode) => {
    await proxy.cut(mode);
    try {
      await expectUnavailable();
      // Still unavailable on a second round (no request took the process or the pool down for good).
      await expectUnavailable();
    } finally {
      await proxy.restore();
    }
    await expectRecovery();
  });

  it('carries on with the sagas afterwards: every saga accepted before, between and after the outages completes', async () => {
    const res = await postSaga(ctx, t.client, 'agent-provisioning', provisioningBody());
    expect(res.status).toBe(202);
    accepted.add(res.body.sagaId);
    expect(accepted.size).toBeGreaterThan(3);
    // A step whose commit the outage interrupted is taken up again once its lease runs out.
    const statuses = async () =>
      Promise.all(
        [...accepted].map(async (id) => {
          const saga = await ctx.http().get(`/v1/sagas/${id}`).set(bearer(t.client));
          return `${id}: ${saga.status} ${saga.body.status}`;
        }),
      );
    await waitFor(async () => (await statuses()).every((s) => s.endsWith('200 COMPLETED')), { timeoutMs: 60_000, intervalMs: 250 }).catch(() => undefined);
    expect((await statuses()).filter((s) => !s.endsWith('200 COMPLETED'))).toEqual([]);
  });
});
