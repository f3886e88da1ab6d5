import { randomUUID } from 'crypto';
import { agentIdOf, initialTaskIdOf } from '@app/sagas';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { agentSpec, provisionAgent } from './support/sagas';

const PROBLEM = /application\/problem\+json/;

/** A worker agent whose initial task `<name>-smoke` echoes its name. */
const worker = (name: string, capabilities: string[]) =>
  agentSpec({ name, capabilities, resources: { cpuMillis: 100, memoryMb: 64 }, initialTask: { name: `${name}-smoke`, handler: 'echo', config: { hello: name } } });

describe('read models', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;
  const sagas: string[] = [];
  const get = (path: string, key?: string) => (key ? ctx.http().get(path).set(bearer(key)) : ctx.http().get(path));

  beforeAll(async () => {
    ({ ctx, t, other } = await startE2eAppWithTenants());
    sagas.push(await provisionAgent(ctx, t, worker('alpha', ['search', 'summarize'])));
    sagas.push(await provisionAgent(ctx, t, worker('beta', ['search'])));
    sagas.push(await provisionAgent(ctx, t, worker('gamma', ['translate'])));
    // Filled by the projections once each saga completed.
    await waitFor(async () => {
      const res = await get('/v1/agents?status=ACTIVE', t.client);
      return res.body.items?.length === 3;
    });
  });
  afterAll(async () => ctx?.close());

  describe('agents', () => {
    it('GET /v1/agents/{agentId} answers the agent a completed provisioning saga made', async () => {
      const agentId = agentIdOf(sagas[0]);
      const res = await get(`/v1/agents/${agentId}`, t.client);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        agentId,
        tenantId: t.tenantId,
        name: 'alpha',
        type: 'worker',
        status: 'ACTIVE',
        capabilities: ['search', 'summarize'],
        permissions: ['read'],
        resources: { cpuMillis: 100, memoryMb: 64 },
        sagaId: sagas[0],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        scaling: { strategy: 'FIXED', min: 1, max: 1 },
        desiredInstances: 1,
        instances: [],
      });
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(res.body.createdAt));
    });

    it('GET /v1/agents filters by status and capability, newest first, and pages with nextCursor', async () => {
      const all = await get('/v1/agents', t.client);
      expect(all.status).toBe(200);
      const names = all.body.items.map((a: { name: string }) => a.name);
      expect([...names].sort()).toEqual(['alpha', 'beta', 'gamma']);
      const created = all.body.items.map((a: { createdAt: string }) => Date.parse(a.createdAt));
      expect([...created].sort((a, b) => b - a)).toEqual(created);
      expect(all.body.nextCursor).toBeUndefined();

      const search = await get('/v1/agents?capability=search', t.client);
      expect(search.body.items.map((a: { name: string }) => a.name).sort()).toEqual(['alpha', 'beta']);
      expect((await get('/v1/agents?capability=nope', t.client)).body.items).toEqual([]);
      expect((await get('/v1/agents?status=PROVISIONING', t.client)).body.items).toEqual([]);
      expect((await get('/v1/agents?status=ACTIVE&capability=translate', t.client)).body.items.map((a: { name: string }) => a.name)).toEqual(['gamma']);

      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 5; i++) {
        const page = await get(`/v1/agents?limit=1${cursor ? `&cursor=${cursor}` : ''}`, t.client);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((a: { name: string }) => a.name));
        cursor = page.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(names);
    });

    it('is tenant-scoped (another tenant: 404 and empty lists; admin: every tenant)', async () => {
      const agentId = agentIdOf(sagas[0]);
      const foreign = await get(`/v1/agents/${agentId}`, other.client);
      expect(foreign.status).toBe(404);
      expect(foreign.headers['content-type']).toMatch(PROBLEM);
      expect((await get('/v1/agents', other.operator)).body.items).toEqual([]);
      expect((await get(`/v1/agents/${agentId}`, ctx.adminKey)).status).toBe(200);
      expect((await get('/v1/agents', ctx.adminKey)).body.items.length).toBeGreaterThanOrEqual(3);
      expect((await get(`/v1/agents/${randomUUID()}`, t.client)).status).toBe(404);
    });

    it('validates the query and path (400), needs a key (401)', async () => {
      const bad = [
        'status=BOGUS',
        'limit=0',
        'limit=501',
        'limit=ten',
        'cursor=%%%',
        `cursor=${Buffer.from('["x","y"]').toString('base64url')}`,
        `cursor=${Buffer.from(JSON.stringify(['2024-02-30T00:00:00.000000Z', randomUUID()])).toString('base64url')}`,
        `cursor=${Buffer.from('not json').toString('base64url')}`,
        'capability=',
        'owner=me',
      ];
      for (const q of bad) {
        const res = await get(`/v1/agents?${q}`, t.client);
        expect({ q, status: res.status }).toEqual({ q, status: 400 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.errors.length).toBeGreaterThan(0);
      }
      expect((await get('/v1/agents/not-a-uuid', t.client)).status).toBe(400);
      expect((await get('/v1/agents')).status).toBe(401);
      expect((await get(`/v1/agents/${agentIdOf(sagas[0])}`)).status).toBe(401);
    });
  });

  describe('tasks', () => {
    it('GET /v1/tasks/{taskId} and GET /v1/tasks?sagaId= answer the initial task of the saga', async () => {
      const taskId = initialTaskIdOf(sagas[1]);
      const res = await get(`/v1/tasks/${taskId}`, t.client);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        taskId,
        tenantId: t.tenantId,
        sagaId: sagas[1],
        name: 'beta-smoke',
        handler: 'echo',
        status: 'COMPLETED',
        config: { hello: 'beta' },
        output: { hello: 'beta' },
        error: null,
        attempts: 1,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const bySaga = await get(`/v1/tasks?sagaId=${sagas[1]}`, t.client);
      expect(bySaga.body.items.map((x: { taskId: string }) => x.taskId)).toEqual([taskId]);
      expect((await get('/v1/tasks?status=COMPLETED', t.client)).body.items).toHaveLength(3);
      expect((await get('/v1/tasks?status=FAILED', t.client)).body.items).toEqual([]);
      const page = await get('/v1/tasks?limit=2', t.client);
      expect(page.body.items).toHaveLength(2);
      const rest = await get(`/v1/tasks?limit=2&cursor=${page.body.nextCursor}`, t.client);
      expect(rest.body.items).toHaveLength(1);
      expect(rest.body.nextCursor).toBeUndefined();
    });

    it('is tenant-scoped, validates (400) and needs a key (401)', async () => {
      const taskId = initialTaskIdOf(sagas[1]);
      expect((await get(`/v1/tasks/${taskId}`, other.client)).status).toBe(404);
      expect((await get(`/v1/tasks?sagaId=${sagas[1]}`, other.client)).body.items).toEqual([]);
      expect((await get(`/v1/tasks/${taskId}`, ctx.adminKey)).status).toBe(200);
      for (const q of ['sagaId=123', 'status=DONE', 'limit=501', 'cursor=abc']) {
        const res = await get(`/v1/tasks?${q}`, t.client);
        expect({ q, status: res.status }).toEqual({ q, status: 400 });
      }
      expect((await get('/v1/tasks/123', t.client)).status).toBe(400);
      expect((await get('/v1/tasks')).status).toBe(401);
      expect((await get(`/v1/tasks/${taskId}`)).status).toBe(401);
    });
  });

  describe('services', () => {
    it('GET /v1/services lists the registry entries by name, filtered by capability and status', async () => {
      const res = await get('/v1/services', t.client);
      expect(res.status).toBe(200);
      expect(res.body.items.map((s: { name: string }) => s.name)).toEqual(['alpha', 'beta', 'gamma']);
      expect(res.body.items[0]).toEqual({
        agentId: agentIdOf(sagas[0]),
        name: 'alpha',
        capabilities: ['search', 'summarize'],
        status: 'HEALTHY',
        registeredAt: expect.any(String),
      });
      expect((await get('/v1/services?capability=summarize', t.client)).body.items.map((s: { name: string }) => s.name)).toEqual(['alpha']);
      expect((await get('/v1/services?status=OFFLINE', t.client)).body.items).toEqual([]);
      const first = await get('/v1/services?limit=2', t.client);
      const second = await get(`/v1/services?limit=2&cursor=${first.body.nextCursor}`, t.client);
      expect([...first.body.items, ...second.body.items].map((s: { name: string }) => s.name)).toEqual(['alpha', 'beta', 'gamma']);
    });

    it('is tenant-scoped, validates (400) and needs a key (401)', async () => {
      expect((await get('/v1/services', other.client)).body.items).toEqual([]);
      expect((await get('/v1/services', ctx.adminKey)).body.items.length).toBeGreaterThanOrEqual(3);
      for (const q of ['status=ACTIVE', 'limit=-1', 'capability=', 'x=1']) {
        const res = await get(`/v1/services?${q}`, t.client);
        expect({ q, status: res.status }).toEqual({ q, status: 400 });
      }
      expect((await get('/v1/services')).status).toBe(401);
    });
  });

  describe('saga stats', () => {
    it('GET /v1/stats/sagas counts by type and status with p50 / p95 durations, per tenant', async () => {
      const res = await waitFor(async () => {
        const r = await get('/v1/stats/sagas', t.client);
        return r.body.durations?.[0]?.finished === 3 && r;
      });
      expect(res.body.byTypeAndStatus).toEqual([{ type: 'agent-provisioning', status: 'COMPLETED', count: 3 }]);
      expect(res.body.durations).toEqual([{ type: 'agent-provisioning', p50Ms: expect.any(Number), p95Ms: expect.any(Number), finished: 3 }]);
      expect(res.body.durations[0].p95Ms).toBeGreaterThanOrEqual(res.body.durations[0].p50Ms);

      expect((await get('/v1/stats/sagas', other.client)).body).toEqual({ byTypeAndStatus: [], durations: [] });
      const admin = await get('/v1/stats/sagas', ctx.adminKey);
      expect(admin.body.byTypeAndStatus[0].count).toBeGreaterThanOrEqual(3);
      expect((await get('/v1/stats/sagas')).status).toBe(401);
    });
  });
});
