import { waitFor } from '@app/database';
import { ABOVE_DOUBLE, BAD_INTEGERS, edit, LONG, NUL, REMOVE, SQL_INJECTIONS, toJson, TWO_POW_63, unusableBodies } from './support/bad-requests';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';

// The real-time fire waits for the next minute: the schedule is made first (beforeAll), the other
// checks run meanwhile, the last test waits for its fire. The file stays well under two minutes.
jest.setTimeout(120_000);

const PROBLEM = /application\/problem\+json/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const workflow = (name = 'scheduled') => ({ name, tasks: [{ id: 'work', handler: 'noop', dependsOn: [] }] });
const scheduleBody = (over: Record<string, unknown> = {}) => ({ cron: '0 3 * * *', sagaType: 'task-workflow', body: workflow(), ...over });

describe('schedules', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;
  let realTime: { id: string; createdAt: number };

  const post = (body: unknown, key = t.client) => ctx.http().post('/v1/schedules').set(bearer(key)).send(body as object);
  const get = (id: string, key = t.client) => ctx.http().get(`/v1/schedules/${id}`).set(bearer(key));
  const list = (query = '', key = t.client) => ctx.http().get(`/v1/schedules${query}`).set(bearer(key));
  const action = (id: string, what: 'pause' | 'resume', key = t.client) => ctx.http().post(`/v1/schedules/${id}/${what}`).set(bearer(key));
  const remove = (id: string, key = t.client) => ctx.http().delete(`/v1/schedules/${id}`).set(bearer(key));
  /** Events of the schedule streams, but the real-time one's (it fires meanwhile). */
  const scheduleEvents = async () =>
    (
      await ctx.db.pool.query<{ n: number }>(`select count(*)::int as n from events where stream_id like 'schedule-%' and stream_id not like '%.every-minute'`)
    ).rows[0].n;

  beforeAll(async () => {
    ({ ctx, t, other } = await startE2eAppWithTenants());
    const res = await post({ id: 'every-minute', cron: '* * * * *', sagaType: 'task-workflow', body: workflow('every minute') });
    expect(res.status).toBe(201);
    realTime = { id: res.body.id, createdAt: Date.now() };
  });
  afterAll(async () => ctx?.close());

  it('creates a schedule: 201 with its next run; a generated UUID when no id is given; UTC by default', async () => {
    const before = Date.now();
    const res = await post(scheduleBody({ cron: '*/5 * * * *' }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.stringMatching(UUID), cron: '*/5 * * * *', timezone: 'UTC', sagaType: 'task-workflow', paused: false, overlap: 'skip', recentRuns: [] });
    const next = Date.parse(res.body.nextRunAt);
    expect(next).toBeGreaterThan(before);
    expect(next).toBeLessThanOrEqual(before + 5 * 60_000 + 1000);
    expect(new Date(next).getUTCMinutes() % 5).toBe(0);

    const got = await get(res.body.id);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ ...res.body, nextRunAt: expect.any(String) });
  });

  it('reads the cron in the IANA time zone it is given', async () => {
    const res = await post(scheduleBody({ id: 'tokyo-nine', cron: '0 9 * * *', timezone: 'Asia/Tokyo' }));
    expect(res.status).toBe(201);
    expect(res.body.timezone).toBe('Asia/Tokyo');
    // 09:00 in Tokyo (UTC+9, no DST) is 00:00 UTC, within the next day.
    const next = new Date(res.body.nextRunAt);
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([0, 0]);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
  });

  it('takes an agent-provisioning start body too, and a slug id once per tenant (409), another tenant may reuse it', async () => {
    const body = { agent: { name: 'nightly-bot', type: 'worker', capabilities: ['x'], permissions: ['read'], resources: { cpuMillis: 10, memoryMb: 16 } } };
    const res = await post({ id: 'nightly-agent', cron: '0 2 * * *', sagaType: 'agent-provisioning', body, paused: true, overlap: 'allow' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'nightly-agent', sagaType: 'agent-provisioning', paused: true, nextRunAt: null, overlap: 'allow' });
    const again = await post({ id: 'nightly-agent', cron: '0 2 * * *', sagaType: 'agent-provisioning', body });
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(PROBLEM);
    expect((await post({ id: 'nightly-agent', cron: '0 4 * * *', sagaType: 'agent-provisioning', body }, other.client)).status).toBe(201);
    expect((await get('nightly-agent', other.client)).body.cron).toBe('0 4 * * *');
    expect((await get('nightly-agent')).body.cron).toBe('0 2 * * *');
  });

  it('refuses invalid schedules with 400 and the start route’s own errors for the body, writing nothing', async () => {
    const before = await scheduleEvents();
    const cases: [string, unknown][] = [
      ['six fields (seconds)', scheduleBody({ cron: '0 * * * * *' })],
      ['four fields', scheduleBody({ cron: '* * * *' })],
      ['minute 61', scheduleBody({ cron: '61 * * * *' })],
      ['a nickname', scheduleBody({ cron: '@daily' })],
      ['never matches', scheduleBody({ cron: '0 0 30 2 *' })],
      ['no cron', { sagaType: 'task-workflow', body: workflow() }],
      ['unknown time zone', scheduleBody({ timezone: 'Mars/Olympus' })],
      ['an offset is no time zone', scheduleBody({ timezone: '+02:00' })],
      ['null time zone', scheduleBody({ timezone: null })],
      ['unknown saga type', scheduleBody({ sagaType: 'nope' })],
      ['a saga type without a start route', scheduleBody({ sagaType: 'agent-decommissioning' })],
      ['body not an object', scheduleBody({ body: [1] })],
      ['no body', { cron: '* * * * *', sagaType: 'task-workflow' }],
      ['overlap', scheduleBody({ overlap: 'queue' })],
      ['paused', scheduleBody({ paused: 'yes' })],
      ['id not a slug', scheduleBody({ id: 'Nightly Run' })],
      ['unknown field', scheduleBody({ extra: 1 })],
    ];
    for (const [label, body] of cases) {
      const res = await post(body);
      expect({ label, status: res.status }).toEqual({ label, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors?.length).toBeGreaterThan(0);
    }

    // The body as POST /v1/sagas/task-workflow would refuse it, field paths under `body.`.
    const dto = await post(scheduleBody({ body: { name: 'x', tasks: [{ id: 'a', handler: 'noop' }] } }));
    expect(dto.status).toBe(400);
    expect(dto.body.errors).toContainEqual(expect.objectContaining({ field: 'body.tasks.0.dependsOn' }));
    const start = await ctx.http().post('/v1/sagas/task-workflow').set(bearer(t.client)).send({ name: 'x', tasks: [{ id: 'a', handler: 'noop' }] });
    expect(start.status).toBe(400);
    expect(dto.body.errors.map((e: { message: string }) => e.message)).toEqual(start.body.errors.map((e: { message: string }) => e.message));
    const unknownField = await post(scheduleBody({ body: { ...workflow(), extra: 1 } }));
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.errors).toContainEqual(expect.objectContaining({ field: 'body.extra' }));

    // The saga definition's own validation: a cycle, an unknown handler, an unknown dependency.
    for (const tasks of [
      [
        { id: 'a', handler: 'noop', dependsOn: ['b'] },
        { id: 'b', handler: 'noop', dependsOn: ['a'] },
      ],
      [{ id: 'a', handler: 'no-such-handler', dependsOn: [] }],
      [{ id: 'a', handler: 'noop', dependsOn: ['ghost'] }],
    ]) {
      const res = await post(scheduleBody({ body: { name: 'bad', tasks } }));
      expect({ tasks, status: res.status }).toEqual({ tasks, status: 400 });
      expect(res.body.errors.length).toBeGreaterThan(0);
      expect(res.body.errors.every((e: { field: string }) => e.field.startsWith('body'))).toBe(true);
    }
    // An agent-provisioning body, and a start from a stored definition that does not exist.
    expect((await post(scheduleBody({ sagaType: 'agent-provisioning', body: { agent: { name: 'x' } } }))).status).toBe(400);
    const unknownDefinition = await post(scheduleBody({ body: { definition: { name: 'no-such-definition' } } }));
    expect(unknownDefinition.status).toBe(400);
    expect(JSON.stringify(unknownDefinition.body.errors)).toMatch(/no-such-definition/);

    // Nothing was written by any refusal.
    expect(await scheduleEvents()).toBe(before);
  });

  it('answers malformed requests with a 4xx problem, never a 500, and writes nothing', async () => {
    const before = await scheduleEvents();
    const valid = scheduleBody({ id: 'never-made' });
    const requests: { label: string; method: 'post' | 'get' | 'delete'; path: string; raw?: string | Buffer; contentType?: string; headers?: Record<string, string> }[] = [];
    for (const u of unusableBodies(valid)) requests.push({ method: 'post', path: '/v1/schedules', ...u });
    const edits: [string, unknown][] = [
      ...[LONG, NUL, 7, null, [], {}, '* * * * * * *', '*/0 * * * *', '1-99 * * * *', 'a b c d e', ...SQL_INJECTIONS].map((v): [string, unknown] => ['cron', v]),
      ...[LONG, NUL, 7, [], {}, 'Europe/../etc', '../../etc/passwd', 'Europe/Berlin\u0000', ...SQL_INJECTIONS].map((v): [string, unknown] => ['timezone', v]),
      ...[LONG, NUL, '', 7, null, 'UPPER', 'x'.repeat(101), '../x', ...SQL_INJECTIONS].map((v): [string, unknown] => ['id', v]),
      ...[REMOVE, null, 7, 'task_workflow', NUL, LONG].map((v): [string, unknown] => ['sagaType', v]),
      ...[null, 'x', 7, true, NUL, { tasks: NUL }, { name: LONG, tasks: [] }, { definition: NUL }, { definition: { name: LONG } }, { definition: { name: 'x', version: TWO_POW_63 } }].map((v): [string, unknown] => ['body', v]),
      ...BAD_INTEGERS.map((v): [string, unknown] => ['body.tasks', v]),
      ...[null, 'SKIP', 7].map((v): [string, unknown] => ['overlap', v]),
      ...[null, 'true', 1, ABOVE_DOUBLE].map((v): [string, unknown] => ['paused', v]),
    ];
    for (const [path, value] of edits) requests.push({ label: `${path}=${String(value).slice(0, 20)}`, method: 'post', path: '/v1/schedules', raw: toJson(edit(valid, path, value)) });
    for (const id of ['x'.repeat(1000), encodeURIComponent(NUL), '..%2F..%2Fetc', encodeURIComponent(SQL_INJECTIONS[0]), 'UPPER-case']) {
      requests.push({ label: `get ${id.slice(0, 20)}`, method: 'get', path: `/v1/schedules/${id}` });
      requests.push({ label: `pause ${id.slice(0, 20)}`, method: 'post', path: `/v1/schedules/${id}/pause` });
      requests.push({ label: `delete ${id.slice(0, 20)}`, method: 'delete', path: `/v1/schedules/${id}` });
    }
    for (const query of ['limit=0', 'limit=-1', 'limit=abc', 'limit=100000', 'cursor=garbage', `cursor=${'x'.repeat(1300)}`, `cursor=${Buffer.from('{"not":"an array"}').toString('base64url')}`]) {
      requests.push({ label: `list ${query.slice(0, 20)}`, method: 'get', path: `/v1/schedules?${query}` });
    }
    const answered: string[] = [];
    for (const r of requests) {
      let req = ctx.http()[r.method](r.path).set(bearer(t.client));
      for (const [k, v] of Object.entries(r.headers ?? {})) req = req.set(k, v);
      if (r.raw !== undefined) req = req.set('Content-Type', r.contentType ?? 'application/json').send(r.raw);
      const res = await req;
      const ok = res.status >= 400 && res.status < 500 && /application\/problem\+json/.test(res.headers['content-type'] ?? '');
      if (!ok) answered.push(`${r.label}: ${res.status} ${(res.text ?? '').slice(0, 200)}`);
    }
    expect(answered).toEqual([]);
    expect(requests.length).toBeGreaterThan(100);
    expect(await scheduleEvents()).toBe(before);
  });

  it('needs an api key, answers 404 for unknown schedules and other tenants’ (never 403), 400 for an id that cannot be one', async () => {
    expect((await ctx.http().post('/v1/schedules').send(scheduleBody())).status).toBe(401);
    expect((await ctx.http().get('/v1/schedules')).status).toBe(401);
    const mine = await post(scheduleBody({ id: 'mine-only' }));
    expect(mine.status).toBe(201);
    for (const res of [await get('mine-only', other.client), await action('mine-only', 'pause', other.client), await action('mine-only', 'resume', other.client), await remove('mine-only', other.client)]) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
    for (const res of [await get('no-such-schedule'), await action('no-such-schedule', 'pause'), await action('no-such-schedule', 'resume'), await remove('no-such-schedule')]) {
      expect(res.status).toBe(404);
    }
    expect((await get('Not%20A%20Slug')).status).toBe(400);
    expect((await get('mine-only')).status).toBe(200); // untouched by the other tenant
    // A raw append to a schedule stream is refused: the platform writes those.
    const append = await ctx
      .http()
      .post(`/v1/streams/schedule-${t.tenantId}.mine-only/events`)
      .set(bearer(t.operator))
      .send({ expectedVersion: 'any', events: [{ type: 'ScheduleDeleted', data: { scheduleId: 'mine-only', deletedAt: new Date().toISOString() } }] });
    expect(append.status).toBe(403);
  });

  it('pauses (200, no next run), resumes (200) and deletes (204, then 404)', async () => {
    expect((await post(scheduleBody({ id: 'lifecycle', cron: '15 * * * *' }))).status).toBe(201);
    const paused = await action('lifecycle', 'pause');
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ id: 'lifecycle', paused: true, nextRunAt: null });
    expect((await action('lifecycle', 'pause')).status).toBe(200); // already paused: nothing changes
    expect((await get('lifecycle')).body.paused).toBe(true);

    const resumed = await action('lifecycle', 'resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body.paused).toBe(false);
    expect(new Date(resumed.body.nextRunAt).getUTCMinutes()).toBe(15);

    const deleted = await remove('lifecycle');
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect((await get('lifecycle')).status).toBe(404);
    expect((await remove('lifecycle')).status).toBe(404);
    expect((await action('lifecycle', 'resume')).status).toBe(404);
    // The id is free again.
    expect((await post(scheduleBody({ id: 'lifecycle' }))).status).toBe(201);
  });

  it('lists the tenant’s schedules newest first, keyset-paged, without other tenants’ or deleted ones', async () => {
    const ids = ['list-a', 'list-b', 'list-c'];
    for (const id of ids) expect((await post(scheduleBody({ id }))).status).toBe(201);
    expect((await remove('list-b')).status).toBe(204);
    const all = await waitFor(async () => {
      const res = await list('?limit=500');
      const seen = res.body.items.map((s: { id: string }) => s.id);
      return seen.includes('list-c') && !seen.includes('list-b') ? res.body.items : undefined;
    }, { what: 'the schedules list to catch up' });
    expect(all.map((s: { id: string }) => s.id).filter((id: string) => ids.includes(id))).toEqual(['list-c', 'list-a']);
    expect(all.find((s: { id: string }) => s.id === 'list-a')).toMatchObject({ cron: '0 3 * * *', timezone: 'UTC', sagaType: 'task-workflow', paused: false, recentRuns: [], nextRunAt: expect.any(String) });
    expect((await list('?limit=500', other.client)).body.items.map((s: { id: string }) => s.id)).not.toContain('list-a');

    // Page by page: the same schedules, in the same order.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      paged.push(...res.body.items.map((s: { id: string }) => s.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.map((s: { id: string }) => s.id));
    expect((await list('?cursor=%%%')).status).toBe(400);
    expect((await list('?limit=0')).status).toBe(400);

    // The read model is rebuilt from the schedules' streams into the same rows.
    const rowsOf = async () =>
      (await ctx.db.pool.query(`select * from schedules where tenant_id = $1 and schedule_id = any($2) order by schedule_id`, [t.tenantId, ids])).rows;
    const before = await rowsOf();
    expect(before.map((r) => r.schedule_id)).toEqual(['list-a', 'list-c']);
    const rebuild = await ctx.http().post('/v1/projections/schedules/rebuild').set(bearer(ctx.adminKey));
    expect(rebuild.status).toBe(202);
    await waitFor(async () => {
      const res = await ctx.http().get('/v1/projections').set(bearer(t.operator));
      const status = res.body.find((p: { name: string }) => p.name === 'schedules');
      return status?.status === 'LIVE' && status.lag === 0 && !status.rebuild;
    }, { what: 'the schedules projection to be rebuilt' });
    expect(await rowsOf()).toEqual(before);
  });

  it('fires `* * * * *` on real time: one saga at the next minute, started with the schedule’s idempotency key', async () => {
    const fireTime = Math.ceil((realTime.createdAt + 1) / 60_000) * 60_000;
    const run = await waitFor(
      async () => {
        const res = await get(realTime.id);
        // The oldest started run (the file may have run past a second fire).
        return [...(res.body.recentRuns ?? [])].reverse().find((r: { sagaId?: string }) => r.sagaId);
      },
      { timeoutMs: Math.max(0, fireTime - Date.now()) + 10_000, intervalMs: 250, what: 'the first fire of `* * * * *`' },
    );
    expect(run).toEqual({ at: new Date(fireTime).toISOString(), sagaId: expect.stringMatching(UUID) });
    const saga = await waitFor(async () => {
      const res = await ctx.http().get(`/v1/sagas/${run.sagaId}`).set(bearer(t.client));
      return res.status === 200 && res.body.status === 'COMPLETED' ? res.body : undefined;
    });
    expect(saga).toMatchObject({ tenantId: t.tenantId, type: 'task-workflow', input: workflow('every minute') });
    // Started once, with the key `schedule:{id}:{fireTime}`.
    const { rows } = await ctx.db.pool.query<{ key: string }>(
      `select idempotency_key as key from saga_idempotency where tenant_id = $1 and saga_id = $2`,
      [t.tenantId, run.sagaId],
    );
    expect(rows).toEqual([{ key: `schedule:every-minute:${new Date(fireTime).toISOString()}` }]);
    const schedule = await get(realTime.id);
    expect(schedule.body.recentRuns.filter((r: { at: string }) => r.at === run.at)).toHaveLength(1);
    expect(Date.parse(schedule.body.nextRunAt)).toBeGreaterThan(fireTime);
  });
});
