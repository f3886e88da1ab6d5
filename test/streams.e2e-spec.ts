import { randomUUID } from 'crypto';
import { MAX_JSON_DEPTH } from '../apps/api/src/streams/streams.validators';
import { agentIdOf, foldSagaEvents, SagaEvent } from '@app/sagas';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { agentSpec, provisionAgent } from './support/sagas';

const PROBLEM = /application\/problem\+json/;

describe('event store routes', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;
  const stream = () => `order-${randomUUID()}`;
  const countEvents = async () => (await ctx.db.pool.query<{ n: number }>('select count(*)::int as n from events')).rows[0].n;

  beforeAll(async () => ({ ctx, t, other } = await startE2eAppWithTenants()));
  afterAll(async () => ctx?.close());

  describe('POST /v1/streams/{streamId}/events', () => {
    it('appends for the caller’s tenant with the platform’s metadata, and reads it back', async () => {
      const id = stream();
      const res = await ctx
        .http()
        .post(`/v1/streams/${id}/events`)
        .set(bearer(t.operator))
        .set('X-Correlation-Id', 'corr-e2e-1')
        .send({
          expectedVersion: 'no_stream',
          events: [
            { type: 'OrderPlaced', data: { total: 42 }, metadata: { source: 'shop', tenantId: 'forged', actor: 'forged' } },
            { type: 'OrderPaid', data: { amount: 42 } },
          ],
        });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ streamId: id, firstVersion: 0, nextExpectedVersion: 1, globalPosition: expect.any(Number) });

      const read = await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(t.operator));
      expect(read.status).toBe(200);
      expect(read.body.streamId).toBe(id);
      expect(read.body.version).toBe(1);
      expect(read.body.events).toHaveLength(2);
      const [first, second] = read.body.events;
      expect(first).toEqual({
        eventId: expect.any(String),
        streamId: id,
        version: 0,
        globalPosition: expect.any(Number),
        type: 'OrderPlaced',
        schemaVersion: 1,
        data: { total: 42 },
        metadata: { source: 'shop', tenantId: t.tenantId, correlationId: 'corr-e2e-1', actor: expect.stringMatching(/^key:/) },
        recordedAt: expect.any(String),
      });
      expect(new Date(first.recordedAt).toISOString()).toBe(first.recordedAt);
      expect(second.version).toBe(1);
      expect(second.globalPosition).toBe(res.body.globalPosition);
      expect(second.globalPosition).toBeGreaterThan(first.globalPosition);
    });

    it('enforces each kind of expected version; a conflict is a 409 with expectedVersion and actualVersion', async () => {
      const id = stream();
      const append = (expectedVersion: unknown) =>
        ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send({ expectedVersion, events: [{ type: 'Tick', data: {} }] });

      const missing = await append('stream_exists');
      expect(missing.status).toBe(409);
      expect(missing.headers['content-type']).toMatch(PROBLEM);
      expect(missing.body).toMatchObject({ status: 409, expectedVersion: 'stream_exists', actualVersion: -1 });

      expect((await append(-1)).body).toMatchObject({ firstVersion: 0, nextExpectedVersion: 0 });
      expect((await append(0)).body).toMatchObject({ firstVersion: 1, nextExpectedVersion: 1 });
      expect((await append('stream_exists')).body).toMatchObject({ firstVersion: 2 });
      expect((await append('any')).body).toMatchObject({ firstVersion: 3 });

      const stale = await append(1);
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ status: 409, expectedVersion: 1, actualVersion: 3 });
      const exists = await append('no_stream');
      expect(exists.status).toBe(409);
      expect(exists.body).toMatchObject({ expectedVersion: 'no_stream', actualVersion: 3 });

      const read = await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(t.operator));
      expect(read.body.version).toBe(3);
    });

    it('is idempotent by event id; an id reused for other content is a 409', async () => {
      const id = stream();
      const eventId = randomUUID();
      const body = { expectedVersion: 'any', events: [{ eventId, type: 'Once', data: { n: 1 } }] };
      const first = await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send(body);
      const again = await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send(body);
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      const read = await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(t.operator));
      expect(read.body.events).toHaveLength(1);

      const reused = await ctx
        .http()
        .post(`/v1/streams/${stream()}/events`)
        .set(bearer(t.operator))
        .send({ expectedVersion: 'any', events: [{ eventId, type: 'Once', data: { n: 2 } }] });
      expect(reused.status).toBe(409);
      expect(reused.body).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventId });
    });

    it('rejects invalid bodies with 400 and field errors, writing nothing', async () => {
      const ok = { type: 'Ok', data: {} };
      const nest = (levels: number) => {
        let v: Record<string, unknown> = {};
        for (let i = 1; i < levels; i++) v = { d: v };
        return v;
      };
      const DUPLICATE_ID = randomUUID();
      // field null: refused by the global nesting limit, before field validation.
      const cases: [string, unknown, string | null][] = [
        ['no expectedVersion', { events: [ok] }, 'expectedVersion'],
        ['expectedVersion below -1', { expectedVersion: -2, events: [ok] }, 'expectedVersion'],
        ['fractional expectedVersion', { expectedVersion: 1.5, events: [ok] }, 'expectedVersion'],
        ['unknown keyword', { expectedVersion: 'latest', events: [ok] }, 'expectedVersion'],
        ['numeric string', { expectedVersion: '3', events: [ok] }, 'expectedVersion'],
        ['no events', { expectedVersion: 'any', events: [] }, 'events'],
        ['events not an array', { expectedVersion: 'any', events: ok }, 'events'],
        ['too many events', { expectedVersion: 'any', events: Array.from({ length: 1001 }, () => ok) }, 'events'],
        ['empty type', { expectedVersion: 'any', events: [{ type: '', data: {} }] }, 'events.0.type'],
        ['type with spaces', { expectedVersion: 'any', events: [{ type: 'Order Placed', data: {} }] }, 'events.0.type'],
        ['type too long', { expectedVersion: 'any', events: [{ type: 'T'.repeat(201), data: {} }] }, 'events.0.type'],
        ['type not a string', { expectedVersion: 'any', events: [{ type: 7, data: {} }] }, 'events.0.type'],
        ['data an array', { expectedVersion: 'any', events: [{ type: 'T', data: [1] }] }, 'events.0.data'],
        ['data a string', { expectedVersion: 'any', events: [{ type: 'T', data: 'x' }] }, 'events.0.data'],
        ['data missing', { expectedVersion: 'any', events: [{ type: 'T' }] }, 'events.0.data'],
        ['data with a NUL character', { expectedVersion: 'any', events: [{ type: 'T', data: { s: 'a\u0000b' } }] }, 'events.0.data'],
        ['eventId not a uuid', { expectedVersion: 'any', events: [{ eventId: 'x', type: 'T', data: {} }] }, 'events.0.eventId'],
        ['metadata an array', { expectedVersion: 'any', events: [{ type: 'T', data: {}, metadata: [] }] }, 'events.0.metadata'],
        ['unknown event field', { expectedVersion: 'any', events: [{ type: 'T', data: {}, version: 3 }] }, 'events.0.version'],
        ['unknown top-level field', { expectedVersion: 'any', events: [ok], tenantId: 'x' }, 'tenantId'],
        ['event not an object', { expectedVersion: 'any', events: [42] }, 'events.0'],
        ['event an array', { expectedVersion: 'any', events: [[]] }, 'events'],
        [
          'an eventId twice in one append',
          { expectedVersion: 'any', events: [{ eventId: DUPLICATE_ID, type: 'A', data: {} }, { eventId: DUPLICATE_ID.toUpperCase(), type: 'B', data: {} }] },
          'events',
        ],
        ['data nested too deep', { expectedVersion: 'any', events: [{ type: 'T', data: nest(MAX_JSON_DEPTH + 1) }] }, null],
        // Built as text: too deep for JSON.stringify here, and for class-transformer's recursion in the app.
        ['data nested 20000 levels', `{"expectedVersion":"any","events":[{"type":"T","data":${'{"d":'.repeat(19999)}{}${'}'.repeat(19999)}}]}`, null],
      ];
      const before = await countEvents();
      for (const [name, body, field] of cases) {
        const res = await ctx
          .http()
          .post(`/v1/streams/${stream()}/events`)
          .set(bearer(t.operator))
          .set('Content-Type', 'application/json')
          .send(typeof body === 'string' ? body : JSON.stringify(body));
        expect({ name, status: res.status }).toEqual({ name, status: 400 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.errors.length).toBeGreaterThan(0);
        if (field !== null) {
          expect({ name, fields: res.body.errors.map((e: { field: string }) => e.field) }).toEqual({ name, fields: expect.arrayContaining([field]) });
        }
      }
      expect(await countEvents()).toBe(before);

      const deepest = await ctx
        .http()
        .post(`/v1/streams/${stream()}/events`)
        .set(bearer(t.operator))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ expectedVersion: 'any', events: [{ type: 'T', data: nest(MAX_JSON_DEPTH), metadata: nest(MAX_JSON_DEPTH) }] }));
      expect(deepest.status).toBe(201);
    });

    it('rejects stream ids that do not match the pattern (400)', async () => {
      for (const id of ['nodash', '-x', `${'c'.repeat(101)}-1`, `order-${'i'.repeat(201)}`, 'or%20der-1', 'order-a%2Fb']) {
        const res = await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send({ expectedVersion: 'any', events: [{ type: 'T', data: {} }] });
        expect({ id, status: res.status }).toEqual({ id, status: 400 });
        expect(res.body.errors).toEqual([expect.objectContaining({ field: 'streamId' })]);
      }
    });

    it('needs a key (401) and the operator role (403); platform categories are refused (403)', async () => {
      const body = { expectedVersion: 'any', events: [{ type: 'T', data: {} }] };
      expect((await ctx.http().post(`/v1/streams/${stream()}/events`).send(body)).status).toBe(401);
      expect((await ctx.http().post(`/v1/streams/${stream()}/events`).set(bearer('sk_nope')).send(body)).status).toBe(401);
      const client = await ctx.http().post(`/v1/streams/${stream()}/events`).set(bearer(t.client)).send(body);
      expect(client.status).toBe(403);
      expect(client.headers['content-type']).toMatch(PROBLEM);
      const before = await countEvents();
      for (const category of ['saga', 'agent', 'task', 'quota', 'service', 'tenant']) {
        const res = await ctx.http().post(`/v1/streams/${category}-${randomUUID()}/events`).set(bearer(t.operator)).send(body);
        expect({ category, status: res.status }).toEqual({ category, status: 403 });
        const admin = await ctx.http().post(`/v1/streams/${category}-${t.tenantId}/events`).set(bearer(ctx.adminKey)).set('X-Tenant-Id', t.tenantId).send(body);
        expect({ category, status: admin.status }).toEqual({ category, status: 403 });
      }
      expect(await countEvents()).toBe(before);
    });

    it('answers 404 for another tenant’s stream, whatever the expected version, and writes nothing', async () => {
      const id = stream();
      await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send({ expectedVersion: 'no_stream', events: [{ type: 'Mine', data: {} }] }).expect(201);
      const before = await countEvents();
      for (const expectedVersion of ['any', 'no_stream', 'stream_exists', 0, 5]) {
        const res = await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(other.operator)).send({ expectedVersion, events: [{ type: 'Theirs', data: {} }] });
        expect({ expectedVersion, status: res.status }).toEqual({ expectedVersion, status: 404 });
        expect(res.body.actualVersion).toBeUndefined();
      }
      expect(await countEvents()).toBe(before);
      expect((await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(other.operator))).status).toBe(404);
    });

    it('never lets two tenants share a stream, even when their first appends race', async () => {
      const ids = Array.from({ length: 10 }, () => stream());
      const results = await Promise.all(
        ids.flatMap((id) =>
          [t, other].map(async (k) => {
            const res = await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(k.operator)).send({ expectedVersion: 'any', events: [{ type: 'Race', data: {} }] });
            return { id, tenantId: k.tenantId, status: res.status };
          }),
        ),
      );
      for (const id of ids) {
        const mine = results.filter((r) => r.id === id);
        expect(mine.map((r) => r.status).sort()).toEqual([201, 404]);
        const winner = mine.find((r) => r.status === 201)!;
        const { rows } = await ctx.db.pool.query<{ tenant_id: string }>('select distinct tenant_id from events where stream_id = $1', [id]);
        expect(rows).toEqual([{ tenant_id: winner.tenantId }]);
      }
    });

    it('lets the admin key append for the tenant named in X-Tenant-Id (400 without it)', async () => {
      const id = stream();
      const body = { expectedVersion: 'any', events: [{ type: 'ByAdmin', data: {} }] };
      expect((await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(ctx.adminKey)).send(body)).status).toBe(400);
      expect((await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(ctx.adminKey)).set('X-Tenant-Id', t.tenantId).send(body)).status).toBe(201);
      const read = await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(t.operator));
      expect(read.body.events[0].metadata).toMatchObject({ tenantId: t.tenantId, actor: 'admin' });
    });
  });

  describe('GET /v1/streams/{streamId}/events', () => {
    let id: string;
    beforeAll(async () => {
      id = stream();
      const events = Array.from({ length: 5 }, (_, i) => ({ type: 'Step', data: { i } }));
      await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send({ expectedVersion: 'no_stream', events }).expect(201);
    });

    it('reads forward and backward from a version with a limit', async () => {
      const fwd = await ctx.http().get(`/v1/streams/${id}/events?fromVersion=1&limit=2`).set(bearer(t.operator));
      expect(fwd.status).toBe(200);
      expect(fwd.body.version).toBe(4);
      expect(fwd.body.events.map((e: { version: number }) => e.version)).toEqual([1, 2]);
      const back = await ctx.http().get(`/v1/streams/${id}/events?direction=backward&limit=3`).set(bearer(t.operator));
      expect(back.body.events.map((e: { data: { i: number } }) => e.data.i)).toEqual([4, 3, 2]);
      const from = await ctx.http().get(`/v1/streams/${id}/events?direction=backward&fromVersion=1`).set(bearer(t.operator));
      expect(from.body.events.map((e: { version: number }) => e.version)).toEqual([1, 0]);
      const past = await ctx.http().get(`/v1/streams/${id}/events?fromVersion=10`).set(bearer(t.operator));
      expect(past.body).toMatchObject({ version: 4, events: [] });
      const admin = await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(ctx.adminKey));
      expect(admin.body.events).toHaveLength(5);
    });

    it('validates the query (400), needs operator (403) and a key (401); unknown and foreign streams are 404', async () => {
      for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'limit=', 'fromVersion=-1', 'fromVersion=1.5', 'direction=sideways', 'colour=red']) {
        const res = await ctx.http().get(`/v1/streams/${id}/events?${q}`).set(bearer(t.operator));
        expect({ q, status: res.status }).toEqual({ q, status: 400 });
        expect(res.body.errors.length).toBeGreaterThan(0);
      }
      expect((await ctx.http().get(`/v1/streams/nodash/events`).set(bearer(t.operator))).status).toBe(400);
      expect((await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(t.client))).status).toBe(403);
      expect((await ctx.http().get(`/v1/streams/${id}/events`)).status).toBe(401);
      expect((await ctx.http().get(`/v1/streams/${stream()}/events`).set(bearer(t.operator))).status).toBe(404);
      expect((await ctx.http().get(`/v1/streams/${id}/events`).set(bearer(other.operator))).status).toBe(404);
    });
  });

  describe('GET /v1/streams/{streamId}/state', () => {
    let sagaId: string;
    beforeAll(async () => {
      sagaId = await provisionAgent(
        ctx,
        t,
        agentSpec({
          name: 'state-agent',
          capabilities: ['search'],
          resources: { cpuMillis: 100, memoryMb: 64 },
          initialTask: { name: 'smoke', handler: 'echo', config: { hello: 'state-agent' } },
        }),
      );
      await waitFor(async () => {
        const res = await ctx.http().get(`/v1/streams/saga-${sagaId}/state`).set(bearer(t.client));
        return res.status === 200 && res.body.state.status === 'COMPLETED';
      });
    });

    it('replays a saga stream with the saga decider, at any version', async () => {
      const events = (await ctx.http().get(`/v1/streams/saga-${sagaId}/events?limit=1000`).set(bearer(t.operator))).body.events as {
        type: string;
        data: unknown;
      }[];
      const end = await ctx.http().get(`/v1/streams/saga-${sagaId}/state`).set(bearer(t.client));
      expect(end.status).toBe(200);
      expect(end.body.version).toBe(events.length - 1);
      expect(end.body.state).toMatchObject({ sagaId, tenantId: t.tenantId, sagaType: 'agent-provisioning', status: 'COMPLETED' });

      const first = await ctx.http().get(`/v1/streams/saga-${sagaId}/state?atVersion=0`).set(bearer(t.client));
      expect(first.body).toMatchObject({ streamId: `saga-${sagaId}`, version: 0, state: { status: 'RUNNING' } });
      expect(Object.values(first.body.state.steps).every((s) => (s as { status: string }).status === 'PENDING')).toBe(true);

      for (const at of [0, 3, Math.floor(events.length / 2), events.length - 1]) {
        const res = await ctx.http().get(`/v1/streams/saga-${sagaId}/state?atVersion=${at}`).set(bearer(t.client));
        const expected = JSON.parse(JSON.stringify(foldSagaEvents(events.slice(0, at + 1) as SagaEvent[])));
        expect({ at, version: res.body.version, state: res.body.state }).toEqual({ at, version: at, state: expected });
      }
      // Past the end: the state at the end, with the version reached.
      const beyond = await ctx.http().get(`/v1/streams/saga-${sagaId}/state?atVersion=100000`).set(bearer(t.client));
      expect(beyond.body).toEqual(end.body);
    });

    it('replays domain aggregates with their own evolve (agent, tenant)', async () => {
      const agentId = agentIdOf(sagaId);
      const registered = await ctx.http().get(`/v1/streams/agent-${agentId}/state?atVersion=0`).set(bearer(t.client));
      expect(registered.status).toBe(200);
      expect(registered.body).toMatchObject({ version: 0, state: { status: 'PROVISIONING', agentId, name: 'state-agent', permissions: [] } });
      const active = await ctx.http().get(`/v1/streams/agent-${agentId}/state`).set(bearer(t.client));
      expect(active.body.state).toMatchObject({ status: 'ACTIVE', permissions: ['read'] });
      expect(active.body.version).toBeGreaterThan(0);

      const tenant = await ctx.http().get(`/v1/streams/tenant-${t.tenantId}/state`).set(bearer(t.client));
      expect(tenant.body).toMatchObject({ streamId: `tenant-${t.tenantId}`, version: 0, state: { status: 'CREATED', tenantId: t.tenantId } });
    });

    it('answers 404 for other categories, unknown streams and another tenant’s; validates atVersion; needs a key', async () => {
      const id = stream();
      await ctx.http().post(`/v1/streams/${id}/events`).set(bearer(t.operator)).send({ expectedVersion: 'any', events: [{ type: 'T', data: {} }] }).expect(201);
      expect((await ctx.http().get(`/v1/streams/${id}/state`).set(bearer(t.client))).status).toBe(404);
      expect((await ctx.http().get(`/v1/streams/agent-${randomUUID()}/state`).set(bearer(t.client))).status).toBe(404);
      const foreign = await ctx.http().get(`/v1/streams/saga-${sagaId}/state`).set(bearer(other.client));
      expect(foreign.status).toBe(404);
      expect(foreign.headers['content-type']).toMatch(PROBLEM);
      expect((await ctx.http().get(`/v1/streams/tenant-${t.tenantId}/state`).set(bearer(other.operator))).status).toBe(404);
      expect((await ctx.http().get(`/v1/streams/saga-${sagaId}/state`).set(bearer(ctx.adminKey))).status).toBe(200);
      for (const q of ['atVersion=-1', 'atVersion=x', 'atVersion=1.5', 'version=1']) {
        const res = await ctx.http().get(`/v1/streams/saga-${sagaId}/state?${q}`).set(bearer(t.client));
        expect({ q, status: res.status }).toEqual({ q, status: 400 });
      }
      expect((await ctx.http().get(`/v1/streams/saga-${sagaId}/state`)).status).toBe(401);
    });
  });

  it('documents the routes with request and response schemas in /docs-json', async () => {
    const doc = (await ctx.http().get('/docs-json')).body;
    const ops: [string, string, string][] = [
      ['/v1/streams/{streamId}/events', 'post', '201'],
      ['/v1/streams/{streamId}/events', 'get', '200'],
      ['/v1/streams/{streamId}/state', 'get', '200'],
      ['/v1/events', 'get', '200'],
      ['/v1/projections', 'get', '200'],
      ['/v1/projections/{name}/rebuild', 'post', '202'],
      ['/v1/agents', 'get', '200'],
      ['/v1/agents/{agentId}', 'get', '200'],
      ['/v1/tasks', 'get', '200'],
      ['/v1/tasks/{taskId}', 'get', '200'],
      ['/v1/services', 'get', '200'],
      ['/v1/stats/sagas', 'get', '200'],
      ['/v1/dead-letters', 'get', '200'],
      ['/v1/dead-letters/{id}/replay', 'post', '202'],
    ];
    for (const [path, method, status] of ops) {
      const op = doc.paths[path]?.[method];
      expect({ path, method, documented: !!op?.responses?.[status]?.content }).toEqual({ path, method, documented: true });
      expect(op.security).toEqual([{ bearer: [] }]);
    }
    expect(doc.paths['/v1/streams/{streamId}/events'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/AppendEventsDto');
    expect(doc.components.schemas.AppendEventsDto.properties.expectedVersion.oneOf).toHaveLength(2);
    expect(doc.components.schemas.NewEventDto.required).toEqual(expect.arrayContaining(['type', 'data']));
  });

  describe('GET /v1/events', () => {
    it('pages the tenant’s global log with after=lastPosition, each event once, in position order', async () => {
      const u = await ctx.tenant();
      const appended: string[] = [];
      for (let s = 0; s < 3; s++) {
        const res = await ctx
          .http()
          .post(`/v1/streams/${stream()}/events`)
          .set(bearer(u.operator))
          .send({ expectedVersion: 'no_stream', events: Array.from({ length: 3 }, (_, i) => ({ eventId: randomUUID(), type: 'Paged', data: { s, i } })) });
        expect(res.status).toBe(201);
      }
      const all = await waitFor(async () => {
        const res = await ctx.http().get('/v1/events?limit=1000').set(bearer(u.operator));
        return res.body.events.filter((e: { type: string }) => e.type === 'Paged').length === 9 && res.body;
      });
      appended.push(...all.events.map((e: { eventId: string }) => e.eventId));
      expect(all.events.every((e: { metadata: { tenantId: string } }) => e.metadata.tenantId === u.tenantId)).toBe(true);

      // Page until the last position of the full read; an empty page only means "nothing new is
      // safely readable yet" (lastPosition stays `after`): a client asks again.
      const target = all.lastPosition;
      const seen: { eventId: string; globalPosition: number }[] = [];
      let after = 0;
      const deadline = Date.now() + 20_000;
      while (after < target && Date.now() < deadline) {
        const res = await ctx.http().get(`/v1/events?after=${after}&limit=2`).set(bearer(u.operator));
        expect(res.status).toBe(200);
        expect(res.body.events.length).toBeLessThanOrEqual(2);
        if (res.body.events.length === 0) {
          expect(res.body.lastPosition).toBe(after);
          continue;
        }
        seen.push(...res.body.events);
        expect(res.body.lastPosition).toBe(res.body.events[res.body.events.length - 1].globalPosition);
        after = res.body.lastPosition;
      }
      expect(after).toBe(target);
      const ids = seen.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(appended);
      const positions = seen.map((e) => e.globalPosition);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);

      const category = await waitFor(async () => {
        const res = await ctx.http().get('/v1/events?category=order&limit=1000').set(bearer(u.operator));
        return res.body.events.length > 0 && res;
      });
      expect(category.body.events).toHaveLength(9);
      expect(category.body.events.every((e: { streamId: string }) => e.streamId.startsWith('order-'))).toBe(true);

      // Another tenant sees none of them; the admin key sees every tenant.
      const foreign = await ctx.http().get('/v1/events?category=order&limit=1000').set(bearer(other.operator));
      expect(foreign.body.events.some((e: { metadata: { tenantId: string } }) => e.metadata.tenantId === u.tenantId)).toBe(false);
      await waitFor(async () => {
        const admin = await ctx.http().get('/v1/events?category=tenant&limit=1000').set(bearer(ctx.adminKey));
        const tenants = new Set(admin.body.events.map((e: { metadata: { tenantId: string } }) => e.metadata.tenantId));
        return tenants.has(u.tenantId) && tenants.has(t.tenantId);
      });
    });

    it('validates the query (400), needs operator (403) and a key (401)', async () => {
      for (const q of ['after=-1', 'after=x', 'limit=0', 'limit=1001', 'category=a-b', 'category=', 'from=1']) {
        const res = await ctx.http().get(`/v1/events?${q}`).set(bearer(t.operator));
        expect({ q, status: res.status }).toEqual({ q, status: 400 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
      }
      expect((await ctx.http().get('/v1/events').set(bearer(t.client))).status).toBe(403);
      expect((await ctx.http().get('/v1/events')).status).toBe(401);
    });
  });
});
