import { bearer, E2eContext, startE2eApp } from './support/e2e-app';

describe('tenants and api keys', () => {
  let ctx: E2eContext;
  beforeAll(async () => {
    ctx = await startE2eApp({ worker: false });
  });
  afterAll(async () => ctx?.close());

  it('creates a tenant (admin), reads it with its quota usage, and refuses a second one with the same id', async () => {
    const body = { id: 'acme-e2e', name: 'Acme', quota: { cpuMillis: 2000, memoryMb: 1024 }, allowedPermissions: ['read'] };
    const res = await ctx.http().post('/v1/tenants').set(bearer(ctx.adminKey)).send(body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'acme-e2e', name: 'Acme', quota: body.quota, allowedPermissions: ['read'], usage: { cpuMillis: 0, memoryMb: 0 } });
    const again = await ctx.http().post('/v1/tenants').set(bearer(ctx.adminKey)).send(body);
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/application\/problem\+json/);
    const got = await ctx.http().get('/v1/tenants/acme-e2e').set(bearer(ctx.adminKey));
    expect(got.status).toBe(200);
    expect((await ctx.http().get('/v1/tenants/nope').set(bearer(ctx.adminKey))).status).toBe(404);
  });

  it('needs an api key (401) and the admin role (403)', async () => {
    const t = await ctx.tenant();
    expect((await ctx.http().get(`/v1/tenants/${t.tenantId}`)).status).toBe(401);
    expect((await ctx.http().get(`/v1/tenants/${t.tenantId}`).set(bearer('sk_unknown'))).status).toBe(401);
    expect((await ctx.http().get(`/v1/tenants/${t.tenantId}`).set(bearer(t.operator))).status).toBe(403);
  });

  it('revokes a key at once', async () => {
    const t = await ctx.tenant();
    const created = await ctx.http().post('/v1/api-keys').set(bearer(ctx.adminKey)).send({ tenantId: t.tenantId, role: 'admin', name: 'temp' });
    expect(created.status).toBe(201);
    expect((await ctx.http().get(`/v1/tenants/${t.tenantId}`).set(bearer(created.body.key))).status).toBe(200);
    expect((await ctx.http().delete(`/v1/api-keys/${created.body.id}`).set(bearer(ctx.adminKey))).status).toBe(204);
    expect((await ctx.http().get(`/v1/tenants/${t.tenantId}`).set(bearer(created.body.key))).status).toBe(401);
    expect((await ctx.http().delete(`/v1/api-keys/${created.body.id}`).set(bearer(ctx.adminKey))).status).toBe(404);
  });

  it('rejects bad input with problem+json 400 and writes nothing', async () => {
    const before = await ctx.db.pool.query('select count(*)::int as n from events');
    const res = await ctx.http().post('/v1/tenants').set(bearer(ctx.adminKey)).send({ id: 'Bad Id!', name: '', quota: { cpuMillis: -1 }, extra: true });
    expect(res.status).toBe(400);
    expect(res.body.errors.length).toBeGreaterThan(0);
    const after = await ctx.db.pool.query('select count(*)::int as n from events');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});
