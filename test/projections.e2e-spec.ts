import { PlatformProjections } from '@app/platform';
import { platformProjections } from '@app/projections';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';
import { agentSpec, provisionAgent } from './support/sagas';

const NAMES = platformProjections()
  .filter((p) => p.mode !== 'inline')
  .map((p) => p.name);

interface Status {
  name: string;
  position: number;
  lag: number;
  status: string;
  lastError?: string;
}

describe('projections', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  const list = async (): Promise<Status[]> => {
    const res = await ctx.http().get('/v1/projections').set(bearer(t.operator));
    expect(res.status).toBe(200);
    return res.body;
  };
  const allLive = async () => {
    const statuses = await list();
    return statuses.every((s) => s.status === 'LIVE' && s.lag === 0 && s.position > 0) && statuses;
  };

  beforeAll(async () => {
    // The worker runs sagas, but the projection runner is started by the test (to see the lag first).
    ctx = await startE2eApp({ projections: { enabled: false, batchSize: 500 } });
    t = await ctx.tenant();
  });
  afterAll(async () => ctx?.close());

  it('GET /v1/projections shows every read model with its lag, then LIVE with no lag once the runner caught up', async () => {
    // Nothing applied yet: the tenant's creation events are all lag (once their transactions are
    // older than every running one: the log is gap-safe).
    const before = await waitFor(async () => {
      const statuses = await list();
      return statuses.every((s) => s.lag > 0) && statuses;
    });
    expect(before.map((s) => s.name)).toEqual(NAMES);
    for (const s of before) {
      expect(s).toEqual({ name: s.name, position: 0, lag: expect.any(Number), status: 'CATCHING_UP' });
    }

    await ctx.app.get(PlatformProjections).runner.start();
    const live = await waitFor(allLive);
    for (const s of live) expect(s).toEqual({ name: s.name, position: expect.any(Number), lag: 0, status: 'LIVE' });
  });

  it('POST /v1/projections/{name}/rebuild answers 202, shows progress, and ends LIVE with the same rows', async () => {
    const sagaId = await provisionAgent(ctx, t, agentSpec({ name: 'rebuilt', capabilities: ['search'], resources: { cpuMillis: 100, memoryMb: 64 } }));
    await waitFor(async () => {
      const res = await ctx.http().get(`/v1/agents?status=ACTIVE`).set(bearer(t.client));
      return res.body.items?.length === 1;
    });
    await waitFor(allLive);
    const rowsOf = async (table: string, key: string) => (await ctx.db.pool.query(`select * from ${table} order by ${key}`)).rows;
    const agentsBefore = await rowsOf('agents', 'agent_id');
    const summariesBefore = await rowsOf('saga_summaries', 'saga_id');
    expect(agentsBefore).toHaveLength(1);
    expect(summariesBefore.map((r) => r.saga_id)).toEqual([sagaId]);

    for (const name of ['agents', 'saga_summaries']) {
      const res = await ctx.http().post(`/v1/projections/${name}/rebuild`).set(bearer(ctx.adminKey));
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ name, position: expect.any(Number), lag: expect.any(Number) });
      expect(['REBUILDING', 'LIVE']).toContain(res.body.status);
    }
    await waitFor(allLive);
    expect(await rowsOf('agents', 'agent_id')).toEqual(agentsBefore);
    expect(await rowsOf('saga_summaries', 'saga_id')).toEqual(summariesBefore);
    // The API kept answering and answers the same agent.
    const agents = await ctx.http().get('/v1/agents').set(bearer(t.client));
    expect(agents.body.items.map((a: { agentId: string }) => a.agentId)).toEqual(agentsBefore.map((r) => r.agent_id));
  });

  it('refuses an unknown projection (404), lower roles (403) and missing keys (401)', async () => {
    const unknown = await ctx.http().post('/v1/projections/nope/rebuild').set(bearer(ctx.adminKey));
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((await ctx.http().post('/v1/projections/agents/rebuild').set(bearer(t.operator))).status).toBe(403);
    expect((await ctx.http().post('/v1/projections/agents/rebuild').set(bearer(t.client))).status).toBe(403);
    expect((await ctx.http().post('/v1/projections/agents/rebuild')).status).toBe(401);
    expect((await ctx.http().get('/v1/projections').set(bearer(t.client))).status).toBe(403);
    expect((await ctx.http().get('/v1/projections')).status).toBe(401);
    // The tenant's admin key may rebuild (admin is platform-wide).
    expect((await ctx.http().post('/v1/projections/services/rebuild').set(bearer(t.admin))).status).toBe(202);
    await waitFor(allLive);
  });
});
