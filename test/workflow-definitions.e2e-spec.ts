import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { postSaga } from './support/sagas';

jest.setTimeout(120_000);

const PROBLEM = /application\/problem\+json/;

const greetV1 = {
  description: 'say hello',
  tasks: [{ id: 'hello', handler: 'echo', dependsOn: [], config: { greeting: 'hello {{ input.who }}' } }],
};
const greetV2 = {
  description: 'say hello, then repeat it',
  maxParallel: 2,
  tasks: [
    { id: 'hello', handler: 'echo', dependsOn: [], config: { greeting: 'hi {{ input.who }}', customer: '{{ input.customer }}', n: '{{ input.items[1] }}' } },
    { id: 'repeat', handler: 'echo', dependsOn: ['hello'], config: { said: '{{ hello.output.greeting }}', to: '{{ input.customer.id }}' } },
  ],
};

describe('workflow definitions: stored, versioned, started by name', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;

  beforeAll(async () => ({ ctx, t, other } = await startE2eAppWithTenants()));
  afterAll(async () => ctx?.close());

  const define = (key: string, body: object) => ctx.http().post('/v1/workflow-definitions').set(bearer(key)).send(body);
  const get = (key: string, path: string) => ctx.http().get(path).set(bearer(key));
  const settle = (sagaId: string, status: string) =>
    waitFor(async () => {
      const res = await get(t.client, `/v1/sagas/${sagaId}`);
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    }, { timeoutMs: 30_000 });
  const stepOutputs = (saga: { steps: { name: string; output?: unknown }[] }) => Object.fromEntries(saga.steps.map((s) => [s.name, s.output]));

  it('stores versions (latest + 1 by default) and reads them back from the stream', async () => {
    const v1 = await define(t.client, { name: 'greet', ...greetV1 });
    expect(v1.status).toBe(201);
    expect(v1.body).toEqual({ name: 'greet', version: 1, createdAt: expect.any(String) });
    const v2 = await define(t.client, { name: 'greet', ...greetV2 });
    expect(v2.status).toBe(201);
    expect(v2.body).toEqual({ name: 'greet', version: 2, createdAt: expect.any(String) });

    const definition = await get(t.client, '/v1/workflow-definitions/greet');
    expect(definition.status).toBe(200);
    expect(definition.body).toEqual({
      name: 'greet',
      versions: [
        { version: 1, createdAt: v1.body.createdAt },
        { version: 2, createdAt: v2.body.createdAt },
      ],
    });
    const stored = await get(t.client, '/v1/workflow-definitions/greet/versions/1');
    expect(stored.status).toBe(200);
    expect(stored.body).toEqual({ name: 'greet', version: 1, ...greetV1, createdAt: v1.body.createdAt });
    expect((await get(t.client, '/v1/workflow-definitions/greet/versions/2')).body).toEqual({ name: 'greet', version: 2, ...greetV2, createdAt: v2.body.createdAt });

    // The events live on the tenant's own platform stream, which no one appends to by hand.
    const stream = `workflowdef-${t.tenantId}.greet`;
    const events = await get(t.operator, `/v1/streams/${stream}/events`);
    expect(events.body.events.map((e: { type: string; data: { version: number } }) => [e.type, e.data.version])).toEqual([
      ['WorkflowVersionDefined', 1],
      ['WorkflowVersionDefined', 2],
    ]);
    const append = await ctx.http().post(`/v1/streams/${stream}/events`).set(bearer(t.operator)).send({ expectedVersion: 'any', events: [{ type: 'WorkflowVersionDefined', data: {} }] });
    expect(append.status).toBe(403);
  });

  it('never changes a version: the same body again answers 200 with the stored one, another body 409', async () => {
    const first = await define(t.client, { name: 'fixed', version: 3, ...greetV1 });
    expect(first.status).toBe(201);
    expect(first.body.version).toBe(3);
    // The same body, keys in another order.
    const again = await define(t.client, { tasks: greetV1.tasks, description: greetV1.description, version: 3, name: 'fixed' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const changed = await define(t.client, { name: 'fixed', version: 3, ...greetV1, description: 'something else' });
    expect(changed.status).toBe(409);
    expect(changed.headers['content-type']).toMatch(PROBLEM);
    expect((await get(t.client, '/v1/workflow-definitions/fixed/versions/3')).body.description).toBe(greetV1.description);
    // Without a version: the latest + 1.
    expect((await define(t.client, { name: 'fixed', ...greetV1 })).body.version).toBe(4);
  });

  it('validates a definition exactly like a task-workflow start (400 with errors, nothing stored)', async () => {
    const task = (id: string, over: Record<string, unknown> = {}) => ({ id, handler: 'noop', dependsOn: [], ...over });
    const cases: [object, string[]][] = [
      [{ name: 'bad', tasks: [task('a', { dependsOn: ['b'] }), task('b', { dependsOn: ['a'] })] }, ['tasks[0].dependsOn']],
      [{ name: 'bad', tasks: [task('a', { handler: 'nope' })] }, ['tasks[0].handler']],
      [{ name: 'bad', tasks: [task('a'), task('a')] }, ['tasks[1].id']],
      [{ name: 'bad', tasks: [task('a'), task('b', { config: { x: '{{ a.output.y }}' } })] }, ['tasks[1].config.x']],
      [{ name: 'bad', tasks: [task('a', { config: { x: '{{ inptu.y }}' } })] }, ['tasks[0].config.x']],
      [{ name: 'bad', tasks: [] }, ['tasks']],
      [{ name: 'Bad Name', tasks: [task('a')] }, ['name']],
      [{ name: 'x'.repeat(101), tasks: [task('a')] }, ['name']],
      [{ name: 'bad', version: 0, tasks: [task('a')] }, ['version']],
      [{ name: 'bad', onFailure: 'explode', tasks: [task('a')] }, ['onFailure']],
      [{ name: 'bad', maxParallel: 65, tasks: [task('a')] }, ['maxParallel']],
      [{ tasks: [task('a')] }, ['name']],
    ];
    for (const [body, fields] of cases) {
      const res = await define(t.client, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(fields));
    }
    expect((await get(t.client, '/v1/workflow-definitions/bad')).status).toBe(404);
  });

  it('starts the latest version by name, with {{ input.… }} rendered, and records the definition version', async () => {
    const input = { who: 'Ada', customer: { id: 'c-42', tier: 'gold' }, items: ['x', 'y'] };
    const res = await postSaga(ctx, t.client, 'task-workflow', { definition: { name: 'greet' }, input });
    expect(res.status).toBe(202);
    expect(res.body.type).toBe('task-workflow');
    const saga = await settle(res.body.sagaId, 'COMPLETED');
    expect(saga.definition).toEqual({ name: 'greet', version: 2 });
    expect(saga.input).toMatchObject({ definition: { name: 'greet', version: 2 }, input, maxParallel: 2 });
    const events = await get(t.client, `/v1/sagas/${res.body.sagaId}/events?limit=1`);
    expect(events.body.events[0]).toMatchObject({ type: 'SagaStarted', data: { definition: { name: 'greet', version: 2 } } });
    expect(stepOutputs(saga)).toEqual({
      hello: { greeting: 'hi Ada', customer: { id: 'c-42', tier: 'gold' }, n: 'y' },
      repeat: { said: 'hi Ada', to: 'c-42' },
    });
  });

  it('starts a given version; a saga keeps the version it started with after a newer one is stored', async () => {
    expect((await define(t.client, { name: 'evolving', tasks: [{ id: 'wait', handler: 'delay', dependsOn: [], config: { ms: 300 } }, { id: 'old', handler: 'echo', dependsOn: ['wait'], config: { v: 1 } }] })).status).toBe(201);
    const started = await postSaga(ctx, t.client, 'task-workflow', { definition: { name: 'evolving' } });
    expect(started.status).toBe(202);
    expect((await define(t.client, { name: 'evolving', tasks: [{ id: 'new', handler: 'echo', dependsOn: [], config: { v: 2 } }] })).body.version).toBe(2);
    const pinned = await postSaga(ctx, t.client, 'task-workflow', { definition: { name: 'evolving', version: 1 } });
    expect(pinned.status).toBe(202);
    const latest = await postSaga(ctx, t.client, 'task-workflow', { definition: { name: 'evolving' } });

    for (const id of [started.body.sagaId, pinned.body.sagaId]) {
      const saga = await settle(id, 'COMPLETED');
      expect(saga.definition).toEqual({ name: 'evolving', version: 1 });
      expect(stepOutputs(saga)).toEqual({ wait: expect.any(Object), old: { v: 1 } });
    }
    const newer = await settle(latest.body.sagaId, 'COMPLETED');
    expect(newer.definition).toEqual({ name: 'evolving', version: 2 });
    expect(stepOutputs(newer)).toEqual({ new: { v: 2 } });
  });

  it('lets a compensation read its own task output (refund the charge it made)', async () => {
    const body = {
      name: 'charge',
      tasks: [
        { id: 'B', handler: 'echo', dependsOn: [], config: { chargeId: 'ch-{{ input.order }}' }, compensation: { handler: 'echo', config: { refund: 'refund charge {{ B.output.chargeId }}' } } },
        { id: 'C', handler: 'fail', dependsOn: ['B'], config: { message: 'out of stock' }, retry: { maxAttempts: 1, backoffMs: 0 } },
      ],
    };
    expect((await define(t.client, body)).status).toBe(201);
    const res = await postSaga(ctx, t.client, 'task-workflow', { definition: { name: 'charge' }, input: { order: 7 } });
    expect(res.status).toBe(202);
    const saga = await settle(res.body.sagaId, 'COMPENSATED');
    expect(stepOutputs(saga).B).toEqual({ chargeId: 'ch-7' });
    expect(saga.steps.find((s: { name: string }) => s.name === 'B').status).toBe('COMPENSATED');
    // The same workflow started with its tasks is accepted too.
    const plain = await postSaga(ctx, t.client, 'task-workflow', { name: 'charge', tasks: [{ ...body.tasks[0], config: { chargeId: 'ch-1' } }, body.tasks[1]] });
    expect(plain.status).toBe(202);
  });

  it('refuses a start from an unknown definition or version, or with a bad input (400), and answers 404 for them', async () => {
    const before = await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted'`);
    const cases: [object, string[]][] = [
      [{ definition: { name: 'nope' } }, ['definition.name']],
      [{ definition: { name: 'greet', version: 9 } }, ['definition.version']],
      [{ definition: { name: 'greet' } }, ['input.who']],
      [{ definition: { name: 'greet' }, input: { who: 'x', items: [] } }, ['input.customer', 'input.items.1']],
      [{ definition: { name: 'greet', version: 1 }, input: { who: '{{ hello.output }}' } }, ['input.who']],
      [{ definition: { name: 'Bad' } }, ['definition.name']],
      [{ definition: { name: 'greet', version: 0 } }, ['definition.version']],
      [{ definition: { name: 'greet' }, input: [] }, ['input']],
      [{ definition: { name: 'greet' }, tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }], input: { who: 'x' } }, ['tasks']],
      [{ name: 'plain', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }], input: { who: 'x' } }, ['input']],
      [{ name: 'plain', tasks: [{ id: 'a', handler: 'echo', dependsOn: [], config: { v: '{{ input.who }}' } }] }, ['tasks[0].config.v']],
    ];
    for (const [body, fields] of cases) {
      const res = await postSaga(ctx, t.client, 'task-workflow', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect({ body, fields: res.body.errors.map((e: { field: string }) => e.field) }).toEqual({ body, fields: expect.arrayContaining(fields) });
    }
    const after = await ctx.db.pool.query(`select count(*)::int as n from events where type = 'SagaStarted'`);
    expect(after.rows[0].n).toBe(before.rows[0].n);

    expect((await get(t.client, '/v1/workflow-definitions/nope')).status).toBe(404);
    expect((await get(t.client, '/v1/workflow-definitions/greet/versions/9')).status).toBe(404);
    expect((await get(t.client, '/v1/workflow-definitions/Bad%20Name')).status).toBe(400);
    expect((await get(t.client, '/v1/workflow-definitions/greet/versions/one')).status).toBe(400);
    expect((await get(t.client, '/v1/workflow-definitions/greet/versions/1e0')).status).toBe(400);
  });

  it("keeps tenants apart: another tenant's definition is unknown to it (404, 400 on start), and a name is per tenant", async () => {
    expect((await get(other.client, '/v1/workflow-definitions/greet')).status).toBe(404);
    expect((await get(other.client, '/v1/workflow-definitions/greet/versions/1')).status).toBe(404);
    const start = await postSaga(ctx, other.client, 'task-workflow', { definition: { name: 'greet' }, input: { who: 'x' } });
    expect(start.status).toBe(400);
    expect(start.body.errors).toEqual([{ field: 'definition.name', message: 'unknown workflow definition greet' }]);

    // The other tenant's own "greet" is a definition of its own, starting at version 1.
    const mine = await define(other.client, { name: 'greet', tasks: [{ id: 'only', handler: 'noop', dependsOn: [] }] });
    expect(mine.status).toBe(201);
    expect(mine.body.version).toBe(1);
    expect((await get(t.client, '/v1/workflow-definitions/greet')).body.versions).toHaveLength(2);
    // The admin key acts for the tenant it names.
    const asAdmin = await ctx.http().get('/v1/workflow-definitions/greet').set(bearer(ctx.adminKey)).set('X-Tenant-Id', other.tenantId);
    expect(asAdmin.body.versions).toHaveLength(1);
  });

  it('lists the tenant’s definitions by name with their latest version, keyset-paged', async () => {
    const names = ['evolving', 'charge', 'fixed', 'greet'].sort();
    const all = await waitFor(async () => {
      const res = await get(t.client, '/v1/workflow-definitions?limit=500');
      return res.status === 200 && res.body.items.length === names.length && res.body.items.every((i: { latestVersion: number; name: string }) => i.name !== 'greet' || i.latestVersion === 2) ? res.body : undefined;
    }, { timeoutMs: 30_000 });
    expect(all.items.map((i: { name: string }) => i.name)).toEqual(names);
    expect(all.items.find((i: { name: string }) => i.name === 'greet')).toEqual({ name: 'greet', latestVersion: 2, description: greetV2.description, updatedAt: expect.any(String) });
    expect(all.items.find((i: { name: string }) => i.name === 'fixed').latestVersion).toBe(4);
    expect(all.nextCursor).toBeUndefined();

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await get(t.client, `/v1/workflow-definitions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((i: { name: string }) => i.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(names);

    const others = await waitFor(async () => {
      const res = await get(other.client, '/v1/workflow-definitions');
      return res.body.items?.length ? res.body : undefined;
    }, { timeoutMs: 30_000 });
    expect(others.items).toEqual([{ name: 'greet', latestVersion: 1, updatedAt: expect.any(String) }]);
    expect((await get(t.client, '/v1/workflow-definitions?cursor=%21%21')).status).toBe(400);
  });

  it('filters the saga list by definition (GET /v1/sagas?definition=)', async () => {
    const plain = await postSaga(ctx, t.client, 'task-workflow', { name: 'greet', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
    expect(plain.status).toBe(202);
    const evolving = await waitFor(async () => {
      const res = await get(t.client, '/v1/sagas?definition=evolving');
      return res.status === 200 && res.body.items.length === 3 ? res.body : undefined;
    }, { timeoutMs: 30_000 });
    expect(evolving.items.map((s: { definition: { version: number } }) => s.definition.version).sort()).toEqual([1, 1, 2]);
    expect(evolving.items.every((s: { definition: { name: string }; type: string }) => s.definition.name === 'evolving' && s.type === 'task-workflow')).toBe(true);
    const greet = await waitFor(async () => {
      const res = await get(t.client, '/v1/sagas?definition=greet&type=task-workflow');
      return res.body.items?.length === 1 ? res.body : undefined;
    }, { timeoutMs: 30_000 });
    // A workflow started with its tasks is not a definition's, whatever its name.
    expect(greet.items[0].sagaId).not.toBe(plain.body.sagaId);
    expect((await get(other.client, '/v1/sagas?definition=evolving')).body.items).toEqual([]);
    expect((await get(t.client, '/v1/sagas?definition=Not%20A%20Name')).status).toBe(400);
  });
});
