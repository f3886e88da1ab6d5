import { randomUUID } from 'crypto';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { postSaga, provisioningBody } from './support/sagas';

const agent = (over: Record<string, unknown> = {}) => provisioningBody({ resources: { cpuMillis: 100, memoryMb: 128 }, ...over });

jest.setTimeout(120_000);

const PROBLEM = /application\/problem\+json/;

describe('sagas: start, read, list', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;

  beforeAll(async () => ({ ctx, t, other } = await startE2eAppWithTenants()));
  afterAll(async () => ctx?.close());

  /** Polls GET /v1/sagas/{id} until the saga reaches `status`. */
  const settle = (sagaId: string, key: string, status: string) =>
    waitFor(async () => {
      const res = await ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(key));
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    }, { timeoutMs: 30_000 });

  it('provisions an agent: 202 with a location, then COMPLETED with every step SUCCEEDED and the correlation id in its events', async () => {
    const correlationId = `corr-${randomUUID()}`;
    const res = await ctx
      .http()
      .post('/v1/sagas/agent-provisioning')
      .set(bearer(t.client))
      .set('X-Correlation-Id', correlationId)
      .send(agent({ initialTask: { name: 'smoke', handler: 'echo', config: { hello: 'world' } } }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ sagaId: expect.any(String), type: 'agent-provisioning', status: 'RUNNING', location: `/v1/sagas/${res.body.sagaId}` });
    expect(res.headers.location).toBe(res.body.location);

    const saga = await settle(res.body.sagaId, t.client, 'COMPLETED');
    expect(saga).toMatchObject({ sagaId: res.body.sagaId, tenantId: t.tenantId, type: 'agent-provisioning', input: { agent: { type: 'worker' } } });
    expect(saga.steps.map((s: { name: string }) => s.name)).toEqual([
      'register-agent',
      'reserve-resources',
      'grant-permissions',
      'register-service',
      'run-initial-task',
      'activate-agent',
    ]);
    expect(saga.steps.every((s: { status: string }) => s.status === 'SUCCEEDED')).toBe(true);
    expect(saga.finishedAt).toEqual(expect.any(String));

    const events = await ctx.http().get(`/v1/sagas/${res.body.sagaId}/events`).set(bearer(t.client));
    expect(events.status).toBe(200);
    expect(events.body.streamId).toBe(`saga-${res.body.sagaId}`);
    expect(events.body.version).toBe(saga.version);
    const list = events.body.events as { type: string; version: number; metadata: Record<string, unknown>; eventId: string; globalPosition: number; schemaVersion: number; recordedAt: string }[];
    expect(list.map((e) => e.version)).toEqual(list.map((_, i) => i));
    expect(list[0]).toMatchObject({ type: 'SagaStarted', schemaVersion: 1, metadata: { tenantId: t.tenantId, correlationId, actor: expect.stringMatching(/^key:/) } });
    expect(list[0]).toEqual(expect.objectContaining({ eventId: expect.any(String), globalPosition: expect.any(Number), recordedAt: expect.any(String), data: expect.any(Object) }));
    expect(list[list.length - 1].type).toBe('SagaCompleted');

    const back = await ctx.http().get(`/v1/sagas/${res.body.sagaId}/events?direction=backward&limit=2`).set(bearer(t.client));
    expect(back.body.events.map((e: { version: number }) => e.version)).toEqual([saga.version, saga.version - 1]);

    const comps = await ctx.http().get(`/v1/sagas/${res.body.sagaId}/compensations`).set(bearer(t.client));
    expect(comps.status).toBe(200);
    expect(comps.body).toEqual({ sagaId: res.body.sagaId, status: 'COMPLETED', entries: [] });
  });

  it('compensates a provisioning that asks for a permission the tenant does not allow, in reverse order, with its compensation log', async () => {
    const res = await postSaga(ctx, t.client, 'agent-provisioning', agent({ permissions: ['read', 'root'] }));
    expect(res.status).toBe(202);
    const saga = await settle(res.body.sagaId, t.client, 'COMPENSATED');
    const status = Object.fromEntries(saga.steps.map((s: { name: string; status: string }) => [s.name, s.status]));
    expect(status).toEqual({
      'register-agent': 'COMPENSATED',
      'reserve-resources': 'COMPENSATED',
      'grant-permissions': 'FAILED',
      'register-service': 'PENDING',
      'run-initial-task': 'PENDING',
      'activate-agent': 'PENDING',
    });
    expect(saga.steps.find((s: { name: string }) => s.name === 'grant-permissions').error).toMatch(/root/);

    const comps = await ctx.http().get(`/v1/sagas/${res.body.sagaId}/compensations`).set(bearer(t.client));
    expect(comps.status).toBe(200);
    expect(comps.body.status).toBe('COMPENSATED');
    expect(comps.body.entries.map((e: { step: string; status: string }) => `${e.step}:${e.status}`)).toEqual([
      'reserve-resources:STARTED',
      'reserve-resources:SUCCEEDED',
      'register-agent:STARTED',
      'register-agent:SUCCEEDED',
    ]);
    expect(comps.body.entries[0]).toEqual({ step: 'reserve-resources', status: 'STARTED', attempt: 1, at: expect.any(String) });

    // The quota reservation was released.
    const tenant = await ctx.http().get(`/v1/tenants/${t.tenantId}`).set(bearer(ctx.adminKey));
    expect(tenant.body.usage).toEqual({ cpuMillis: 100, memoryMb: 128 }); // only the completed agent of the first test
  });

  it('is idempotent per Idempotency-Key: same body → same saga, other body → 409, key over 200 characters → 400', async () => {
    const key = `idem-${randomUUID()}`;
    const body = agent();
    const first = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Idempotency-Key', key).send(body);
    expect(first.status).toBe(202);
    // The same body with its keys in another order is the same request.
    const reordered = { agent: { ...Object.fromEntries(Object.entries(body.agent).reverse()), resources: { memoryMb: 128, cpuMillis: 100 } } };
    const again = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Idempotency-Key', key).send(reordered);
    expect(again.status).toBe(202);
    expect(again.body.sagaId).toBe(first.body.sagaId);
    expect(again.headers.location).toBe(`/v1/sagas/${first.body.sagaId}`);

    const startedCount = async () =>
      (await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted' and tenant_id = $1`, [t.tenantId])).rows[0].n as number;
    const before = await startedCount();
    const conflict = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Idempotency-Key', key).send(agent());
    expect(conflict.status).toBe(409);
    expect(conflict.headers['content-type']).toMatch(PROBLEM);
    // Another saga type under the same key is another body too.
    const wf = { name: 'w', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] };
    expect((await ctx.http().post('/v1/sagas/task-workflow').set(bearer(t.client)).set('Idempotency-Key', key).send(wf)).status).toBe(409);

    const tooLong = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Idempotency-Key', 'k'.repeat(201)).send(agent());
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
    // Refusals start nothing.
    expect(await startedCount()).toBe(before);

    // Keys are per tenant: another tenant's identical key starts its own saga.
    const elsewhere = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(other.client)).set('Idempotency-Key', key).send(body);
    expect(elsewhere.status).toBe(202);
    expect(elsewhere.body.sagaId).not.toBe(first.body.sagaId);
  });

  it('refuses an invalid provisioning body with 400 problem+json naming the fields, and writes nothing', async () => {
    const before = await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted'`);
    const cases: [unknown, string[]][] = [
      [{}, ['agent']],
      [{ agent: { ...agent().agent, resources: { cpuMillis: -1, memoryMb: 1.5 } } }, ['agent.resources.cpuMillis', 'agent.resources.memoryMb']],
      [{ agent: { ...agent().agent, resources: { cpuMillis: 1e12, memoryMb: '5' } } }, ['agent.resources.cpuMillis', 'agent.resources.memoryMb']],
      [{ agent: { ...agent().agent, capabilities: 'x' } }, ['agent.capabilities']],
      [{ agent: { ...agent().agent, permissions: Array.from({ length: 101 }, (_, i) => `p${i}`) } }, ['agent.permissions']],
      [{ agent: { ...agent().agent, name: '' } }, ['agent.name']],
      [{ agent: { ...agent().agent, name: 'x'.repeat(201) } }, ['agent.name']],
      [{ agent: { ...agent().agent, extra: 1 } }, ['agent.extra']],
      [{ ...agent(), extra: 1 }, ['extra']],
      [{ agent: { ...agent().agent, initialTask: { name: 'x', handler: 'echo', config: [1] } } }, ['agent.initialTask.config']],
      [{ agent: { ...agent().agent, initialTask: { name: 'x' } } }, ['agent.initialTask.handler']],
      [{ agent: { ...agent().agent, resources: null } }, ['agent.resources']],
      [[], []],
      ['"text"', []],
    ];
    for (const [body, fields] of cases) {
      const res = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Content-Type', 'application/json').send(JSON.stringify(body));
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      for (const f of fields) expect({ body, fields: res.body.errors.map((e: { field: string }) => e.field) }).toEqual({ body, fields: expect.arrayContaining([f]) });
    }
    // An unknown initial-task handler is refused by the saga's own validation.
    const unknown = await postSaga(ctx, t.client, 'agent-provisioning', agent({ initialTask: { name: 'x', handler: 'nope' } }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ field: 'agent.initialTask.handler', message: expect.stringContaining('nope') }]);
    // Nesting that would overflow the stack of a recursive walker is a 400, not a 500.
    const deep = `{"agent":{"name":"a","type":"t","capabilities":[],"permissions":[],"resources":{"cpuMillis":1,"memoryMb":1},"initialTask":{"name":"x","handler":"echo","config":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}}`;
    const deepRes = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Content-Type', 'application/json').send(deep);
    expect(deepRes.status).toBe(400);
    // Not JSON at all.
    expect((await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Content-Type', 'text/plain').send('hi')).status).toBe(415);
    expect((await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).set('Content-Type', 'application/json').send('{"agent":')).status).toBe(400);

    const after = await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted'`);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('needs an api key to start or read sagas (401)', async () => {
    expect((await ctx.http().post('/v1/sagas/agent-provisioning').send(agent())).status).toBe(401);
    expect((await ctx.http().post('/v1/sagas/task-workflow').set(bearer('sk_nope')).send({})).status).toBe(401);
    const id = randomUUID();
    for (const path of [`/v1/sagas/${id}`, `/v1/sagas/${id}/events`, `/v1/sagas/${id}/compensations`, `/v1/sagas/${id}/live`, '/v1/sagas']) {
      const res = await ctx.http().get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
  });

  it("answers 404 for another tenant's saga and for unknown ids, 400 for malformed ids; the admin key sees every tenant", async () => {
    const res = await postSaga(ctx, t.client, 'task-workflow', { name: 'mine', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
    expect(res.status).toBe(202);
    const id = res.body.sagaId;
    for (const suffix of ['', '/events', '/compensations', '/live']) {
      const foreign = await ctx.http().get(`/v1/sagas/${id}${suffix}`).set(bearer(other.operator));
      expect({ suffix, status: foreign.status }).toEqual({ suffix, status: 404 });
      expect(foreign.headers['content-type']).toMatch(PROBLEM);
      expect((await ctx.http().get(`/v1/sagas/${randomUUID()}${suffix}`).set(bearer(t.client))).status).toBe(404);
      const malformed = await ctx.http().get(`/v1/sagas/not-a-uuid${suffix}`).set(bearer(t.client));
      expect({ suffix, status: malformed.status }).toEqual({ suffix, status: 400 });
    }
    const asAdmin = await ctx.http().get(`/v1/sagas/${id}`).set(bearer(ctx.adminKey));
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.tenantId).toBe(t.tenantId);
    expect((await ctx.http().get(`/v1/sagas/${id}/events?limit=0`).set(bearer(t.client))).status).toBe(400);
    expect((await ctx.http().get(`/v1/sagas/${id}/events?direction=sideways`).set(bearer(t.client))).status).toBe(400);
  });

  it('runs a task workflow with template references to COMPLETED', async () => {
    const res = await postSaga(ctx, t.client, 'task-workflow', {
      name: 'templated',
      maxParallel: 2,
      tasks: [
        { id: 'a', handler: 'echo', dependsOn: [], config: { greeting: 'hello' }, priority: 'HIGH' },
        { id: 'b', handler: 'echo', dependsOn: ['a'], config: { said: '{{ a.output.greeting }}' }, retry: { maxAttempts: 2, backoffMs: 10 }, timeoutMs: 5000 },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body.type).toBe('task-workflow');
    const saga = await settle(res.body.sagaId, t.client, 'COMPLETED');
    expect(saga.steps).toEqual([
      expect.objectContaining({ name: 'a', status: 'SUCCEEDED', attempts: 1 }),
      expect.objectContaining({ name: 'b', status: 'SUCCEEDED', output: expect.objectContaining({ said: 'hello' }) }),
    ]);
  });

  it('compensates a task workflow whose task fails: the completed tasks with a compensation, in reverse completion order', async () => {
    const res = await postSaga(ctx, t.client, 'task-workflow', {
      name: 'fails',
      maxParallel: 1,
      tasks: [
        { id: 'a', handler: 'echo', dependsOn: [], config: { x: 1 }, compensation: { handler: 'noop' } },
        { id: 'b', handler: 'echo', dependsOn: ['a'], compensation: { handler: 'echo', config: { undo: '{{ a.output.x }}' } } },
        { id: 'plain', handler: 'noop', dependsOn: ['b'] },
        { id: 'boom', handler: 'fail', dependsOn: ['plain'], config: { message: 'kaboom' }, retry: { maxAttempts: 2, backoffMs: 1 } },
      ],
    });
    expect(res.status).toBe(202);
    const saga = await settle(res.body.sagaId, t.client, 'COMPENSATED');
    const byName = Object.fromEntries(saga.steps.map((s: { name: string }) => [s.name, s]));
    expect(byName.boom).toMatchObject({ status: 'FAILED', attempts: 2, error: expect.stringContaining('kaboom') });
    expect(byName.a.status).toBe('COMPENSATED');
    expect(byName.b.status).toBe('COMPENSATED');
    expect(byName.plain.status).toBe('SUCCEEDED'); // nothing to undo
    const comps = await ctx.http().get(`/v1/sagas/${res.body.sagaId}/compensations`).set(bearer(t.client));
    expect(comps.body.entries.map((e: { step: string; status: string }) => `${e.step}:${e.status}`)).toEqual(['b:STARTED', 'b:SUCCEEDED', 'a:STARTED', 'a:SUCCEEDED']);
  });

  it('refuses an invalid task workflow with 400 and the errors of every problem (DAG, handlers, templates, bounds)', async () => {
    const before = await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted'`);
    const task = (id: string, over: Record<string, unknown> = {}) => ({ id, handler: 'noop', dependsOn: [], ...over });
    const cases: [unknown, string[]][] = [
      [{ name: 'cycle', tasks: [task('a', { dependsOn: ['b'] }), task('b', { dependsOn: ['a'] })] }, ['tasks[0].dependsOn']],
      [{ name: 'self', tasks: [task('a', { dependsOn: ['a'] })] }, ['tasks[0].dependsOn']],
      [{ name: 'unknown dep', tasks: [task('a', { dependsOn: ['zzz'] })] }, ['tasks[0].dependsOn[0]']],
      [{ name: 'handler', tasks: [task('a', { handler: 'nope' })] }, ['tasks[0].handler']],
      [{ name: 'comp handler', tasks: [task('a', { compensation: { handler: 'nope' } })] }, ['tasks[0].compensation.handler']],
      [{ name: 'dup', tasks: [task('a'), task('a')] }, ['tasks[1].id']],
      [{ name: 'tpl unknown', tasks: [task('a', { config: { x: '{{ zz.output.y }}' } })] }, ['tasks[0].config.x']],
      [{ name: 'tpl not upstream', tasks: [task('a'), task('b', { config: { x: '{{ a.output.y }}' } })] }, ['tasks[1].config.x']],
      [{ name: 'tpl malformed', tasks: [task('a'), task('b', { dependsOn: ['a'], config: { x: '{{ a.nope }}' } })] }, ['tasks[1].config.x']],
      [{ name: 'no tasks', tasks: [] }, ['tasks']],
      [{ name: 'too many', tasks: Array.from({ length: 501 }, (_, i) => task(`t${i}`)) }, ['tasks']],
      [{ name: 'bad id', tasks: [task('has space')] }, ['tasks.0.id']],
      [{ name: 'no deps', tasks: [{ id: 'a', handler: 'noop' }] }, ['tasks.0.dependsOn']],
      [{ name: 'prio', tasks: [task('a', { priority: 'URGENT' })] }, ['tasks.0.priority']],
      [{ name: 'retry', tasks: [task('a', { retry: { maxAttempts: 0, backoffMs: -1 } })] }, ['tasks.0.retry.maxAttempts', 'tasks.0.retry.backoffMs']],
      [{ name: 'retry big', tasks: [task('a', { retry: { maxAttempts: 1e9, backoffMs: 1e12 } })] }, ['tasks.0.retry.maxAttempts', 'tasks.0.retry.backoffMs']],
      [{ name: 'timeout', tasks: [task('a', { timeoutMs: 0 })] }, ['tasks.0.timeoutMs']],
      [{ name: 'timeout big', tasks: [task('a', { timeoutMs: 1e15 })] }, ['tasks.0.timeoutMs']],
      [{ name: 'parallel', maxParallel: 0, tasks: [task('a')] }, ['maxParallel']],
      [{ name: 'parallel big', maxParallel: 65, tasks: [task('a')] }, ['maxParallel']],
      [{ name: 'config', tasks: [task('a', { config: 'x' })] }, ['tasks.0.config']],
      [{ name: 'extra', tasks: [task('a', { extra: true })] }, ['tasks.0.extra']],
      [{ name: 'task not object', tasks: [1] }, ['tasks.0']],
      [{ tasks: [task('a')] }, ['name']],
    ];
    for (const [body, fields] of cases) {
      const res = await postSaga(ctx, t.client, 'task-workflow', body as object);
      expect({ name: (body as { name?: string }).name, status: res.status }).toEqual({ name: (body as { name?: string }).name, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      const got = (res.body.errors ?? []).map((e: { field: string }) => e.field);
      for (const f of fields) expect({ name: (body as { name?: string }).name, got }).toEqual({ name: (body as { name?: string }).name, got: expect.arrayContaining([f]) });
    }
    const after = await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted'`);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('accepts a 500-task chain (the upper bound) without a 5xx', async () => {
    const tasks = Array.from({ length: 500 }, (_, i) => ({ id: `t${i}`, handler: 'noop', dependsOn: i ? [`t${i - 1}`] : [] }));
    const res = await postSaga(ctx, other.client, 'task-workflow', { name: 'long', tasks });
    expect(res.status).toBe(202);
    // Cancelled while its steps commit back to back (the operator command must still get through).
    const cancel = await ctx.http().post(`/v1/sagas/${res.body.sagaId}/cancel`).set(bearer(other.operator)).send({ reason: 'enough' });
    expect({ status: cancel.status, body: cancel.status === 202 ? undefined : cancel.body }).toEqual({ status: 202, body: undefined });
    expect(cancel.body).toMatchObject({ sagaId: res.body.sagaId, status: expect.stringMatching(/^COMPENSAT/) });
  });

  describe('GET /v1/sagas', () => {
    let lister: TenantKeys;
    const ids: string[] = [];

    beforeAll(async () => {
      lister = await ctx.tenant();
      for (let i = 0; i < 3; i++) {
        const res = await postSaga(ctx, lister.client, 'task-workflow', { name: `w${i}`, tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
        expect(res.status).toBe(202);
        ids.push(res.body.sagaId);
      }
      const res = await postSaga(ctx, lister.client, 'agent-provisioning', agent());
      ids.push(res.body.sagaId);
      // The list is a read model: wait until it caught up with every saga's end.
      await waitFor(async () => {
        const res = await ctx.http().get('/v1/sagas?status=COMPLETED').set(bearer(lister.client));
        return res.body.items?.length === 4;
      }, { timeoutMs: 30_000 });
    });

    it('lists the tenant sagas newest first, pages with an opaque cursor, and filters by type and status', async () => {
      const all = await ctx.http().get('/v1/sagas').set(bearer(lister.client));
      expect(all.status).toBe(200);
      expect(all.body.nextCursor).toBeUndefined();
      expect(all.body.items.map((s: { sagaId: string }) => s.sagaId)).toEqual([...ids].reverse());
      expect(all.body.items[0]).toMatchObject({ sagaId: ids[3], tenantId: lister.tenantId, type: 'agent-provisioning', status: 'COMPLETED', version: expect.any(Number), startedAt: expect.any(String), finishedAt: expect.any(String) });
      expect(all.body.items[0].steps).toHaveLength(6);

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await ctx.http().get('/v1/sagas').query({ limit: 3, ...(cursor ? { cursor } : {}) }).set(bearer(lister.client));
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...res.body.items.map((s: { sagaId: string }) => s.sagaId));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual([...ids].reverse());
      expect(pages).toBe(2);

      const workflows = await ctx.http().get('/v1/sagas?type=task-workflow&limit=500').set(bearer(lister.client));
      expect(workflows.body.items.map((s: { sagaId: string }) => s.sagaId)).toEqual(ids.slice(0, 3).reverse());
      const running = await ctx.http().get('/v1/sagas?status=RUNNING').set(bearer(lister.client));
      expect(running.body.items).toEqual([]);
    });

    it("scopes the list to the caller's tenant; the admin key sees every tenant", async () => {
      const foreign = await ctx.http().get('/v1/sagas?limit=500').set(bearer(other.client));
      expect(foreign.body.items.some((s: { sagaId: string }) => ids.includes(s.sagaId))).toBe(false);
      expect(foreign.body.items.every((s: { tenantId: string }) => s.tenantId === other.tenantId)).toBe(true);
      const admin = await ctx.http().get('/v1/sagas?limit=500').set(bearer(ctx.adminKey));
      const tenants = new Set(admin.body.items.map((s: { tenantId: string }) => s.tenantId));
      expect(tenants.has(lister.tenantId)).toBe(true);
      expect(tenants.has(t.tenantId)).toBe(true);
    });

    it('refuses an invalid query or cursor with 400', async () => {
      const forged = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString('base64url');
      for (const qs of [
        'limit=0',
        'limit=501',
        'limit=abc',
        'limit=1.5',
        'type=bogus',
        'status=DONE',
        'unknown=1',
        'cursor=%25%25%25',
        'cursor=abc',
        `cursor=${forged(['2024-13-01T00:00:00.000000Z', randomUUID()])}`,
        `cursor=${forged(['2024-02-30T00:00:00.000000Z', randomUUID()])}`,
        `cursor=${forged(['2024-01-01T00:00:00.000000Z', 'not-a-uuid'])}`,
        `cursor=${forged({ a: 1 })}`,
        `cursor=${'A'.repeat(600)}`,
      ]) {
        const res = await ctx.http().get(`/v1/sagas?${qs}`).set(bearer(lister.client));
        expect({ qs, status: res.status }).toEqual({ qs, status: 400 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
      }
      const wellFormed = await ctx.http().get(`/v1/sagas?cursor=${forged(['2000-01-01T00:00:00.000000Z', randomUUID()])}`).set(bearer(lister.client));
      expect(wellFormed.status).toBe(200);
      expect(wellFormed.body.items).toEqual([]);
    });
  });

  it('documents every saga route with request and response schemas in the OpenAPI document', async () => {
    const doc = (await ctx.http().get('/docs-json')).body;
    const paths = doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>; requestBody?: unknown; tags?: string[] }>>;
    expect(paths['/v1/sagas/agent-provisioning'].post.requestBody).toBeDefined();
    expect(paths['/v1/sagas/agent-provisioning'].post.responses['202'].content?.['application/json'].schema?.$ref).toMatch(/SagaAcceptedDto/);
    expect(paths['/v1/sagas/task-workflow'].post.requestBody).toBeDefined();
    expect(paths['/v1/sagas/{sagaId}'].get.responses['200'].content?.['application/json'].schema?.$ref).toMatch(/SagaViewDto/);
    expect(paths['/v1/sagas'].get.responses['200']).toBeDefined();
    expect(paths['/v1/sagas/{sagaId}/events'].get.responses['200']).toBeDefined();
    expect(paths['/v1/sagas/{sagaId}/compensations'].get.responses['200']).toBeDefined();
    expect(paths['/v1/sagas/{sagaId}/live'].get.responses['200'].content?.['text/event-stream']).toBeDefined();
    expect(paths['/v1/compensations'].get.responses['200']).toBeDefined();
    for (const action of ['retry', 'skip', 'cancel']) expect(paths[`/v1/sagas/{sagaId}/${action}`].post.responses['202']).toBeDefined();
    const schemas = doc.components.schemas as Record<string, { properties: Record<string, unknown> }>;
    expect(Object.keys(schemas.WorkflowTaskDto.properties)).toEqual(
      expect.arrayContaining(['id', 'handler', 'dependsOn', 'config', 'priority', 'retry', 'timeoutMs', 'compensation']),
    );
    expect(Object.keys(schemas.AgentSpecDto.properties)).toEqual(expect.arrayContaining(['name', 'type', 'capabilities', 'permissions', 'resources', 'initialTask']));
  });
});
