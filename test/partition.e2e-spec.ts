import { randomUUID } from 'crypto';
import { performance } from 'perf_hooks';
import { createTestDatabase, delay, TestDatabase, waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';
import { OutageMode, TcpProxy } from './support/tcp-proxy';
import { provisioningBody } from './support/sagas';

/*
 * DESIGN.md "Failure promises at the edges": no request waits on a silent database. The app (API
 * and worker in one process) reaches PostgreSQL through a TCP proxy; while sagas run, the proxy
 * stops answering without closing anything (a network partition) or refuses connections, for 15 s.
 * Every data route must answer 503 problem+json within 5 s meanwhile, /health 200; afterwards every
 * saga finishes as designed, in the same process, with no domain event written twice and every
 * compensation in exact reverse completion order.
 */

jest.setTimeout(150_000);

const PARTITION_MS = 15_000;
/** The promise: a request whose database does not answer gets its 503 within this long. */
const ANSWER_WITHIN_MS = 5_000;
/** Probes start during the first part of the outage only, so that each one's 5 s end before it does. */
const PROBE_WINDOW_MS = PARTITION_MS - ANSWER_WITHIN_MS;
/** How long a probe is given before it is reported as unanswered (well past the promise, for the report). */
const PROBE_GIVE_UP_MS = 12_000;
const PROBLEM = /^application\/problem\+json/;

type Expected = 'COMPLETED' | 'COMPENSATED';
type SagaType = 'task-workflow' | 'agent-provisioning';

interface Planned {
  type: SagaType;
  body: Record<string, unknown>;
}

interface Sample {
  probe: string;
  /** ms after the outage began. */
  at: number;
  ms: number;
  status: number | string;
  contentType?: string;
  body?: string;
}

interface Row {
  stream_id: string;
  type: string;
  version: number;
  data: Record<string, unknown>;
}

const undo = { handler: 'noop' };

/** Every saga's expected end is written in its name: `ok-…` completes, anything else compensates. */
function expectedOf(type: SagaType, input: Record<string, unknown>): Expected {
  const name = type === 'task-workflow' ? (input.name as string) : ((input.agent as { name: string }).name);
  return name.startsWith('ok-') || name.startsWith('probe-') ? 'COMPLETED' : 'COMPENSATED';
}

/**
 * Sagas to be in flight when the database goes: workflows with `delay` steps that end during the
 * outage (their commit is lost), workflows that fail after compensable steps succeeded, and agent
 * provisionings that complete or are refused (permission, quota, failing initial task).
 */
function batch(tag: string): Planned[] {
  const out: Planned[] = [];
  for (let i = 0; i < 4; i++) {
    out.push({
      type: 'task-workflow',
      body: {
        name: `ok-${tag}-${i}`,
        maxParallel: 3,
        tasks: [
          { id: 'root', handler: 'echo', dependsOn: [], config: { n: i }, compensation: undo },
          { id: 'slow', handler: 'delay', dependsOn: ['root'], config: { ms: 2500 + i * 1500 }, compensation: undo },
          { id: 'fast', handler: 'delay', dependsOn: ['root'], config: { ms: 200 + i * 100 }, compensation: undo },
          { id: 'mid', handler: 'echo', dependsOn: ['root'], config: { n: '{{ root.output.n }}' }, compensation: undo },
          { id: 'join', handler: 'transform', dependsOn: ['slow', 'fast', 'mid'], config: { merge: ['{{ mid.output }}', '{{ slow.output }}'] } },
        ],
      },
    });
  }
  for (let i = 0; i < 3; i++) {
    out.push({
      type: 'task-workflow',
      body: {
        name: `fail-${tag}-${i}`,
        maxParallel: 2,
        tasks: [
          { id: 'a', handler: 'echo', dependsOn: [], config: { x: i }, compensation: undo },
          { id: 'b', handler: 'delay', dependsOn: ['a'], config: { ms: 2000 + i * 2000 }, compensation: { handler: 'echo', config: { undo: '{{ a.output.x }}' } } },
          { id: 'side', handler: 'delay', dependsOn: ['a'], config: { ms: 500 }, compensation: undo },
          { id: 'plain', handler: 'noop', dependsOn: ['b'] },
          { id: 'boom', handler: 'fail', dependsOn: ['plain', 'side'], config: { message: 'kaboom' }, retry: { maxAttempts: 2, backoffMs: 100 } },
        ],
      },
    });
  }
  const agent = (name: string, over: Record<string, unknown> = {}) => provisioningBody({ name, ...over });
  out.push({ type: 'agent-provisioning', body: agent(`ok-${tag}-plain`) });
  out.push({ type: 'agent-provisioning', body: agent(`ok-${tag}-echo`, { initialTask: { name: 'smoke', handler: 'echo', config: { hello: tag } } }) });
  out.push({ type: 'agent-provisioning', body: agent(`ok-${tag}-slow`, { initialTask: { name: 'smoke', handler: 'delay', config: { ms: 3000 } } }) });
  out.push({ type: 'agent-provisioning', body: agent(`forbidden-${tag}-0`, { permissions: ['read', 'root'] }) });
  out.push({ type: 'agent-provisioning', body: agent(`forbidden-${tag}-1`, { permissions: ['write', 'root'] }) });
  out.push({ type: 'agent-provisioning', body: agent(`greedy-${tag}`, { resources: { cpuMillis: 500_000, memoryMb: 16 } }) });
  out.push({
    type: 'agent-provisioning',
    body: agent(`smoky-${tag}`, { initialTask: { name: 'smoke', handler: 'fail', config: { message: 'smoke failed' } } }),
  });
  return out;
}

describe('partition: PostgreSQL silent (blackhole) or refusing for 15 s while sagas run', () => {
  let target: TestDatabase;
  let proxy: TcpProxy;
  let ctx: E2eContext;

  beforeAll(async () => {
    target = await createTestDatabase({ poolSize: 2 });
    proxy = await TcpProxy.start();
    ctx = await startE2eApp({ databaseUrl: proxy.urlFor(target.url) });
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await ctx?.close().catch(() => undefined);
    await proxy?.close();
    await target?.drop();
  });

  /** The test reads the database directly (not through the proxy): the app's answers are what is tested. */
  const rows = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await target.pool.query(sql, params)).rows as T[];

  /** One timed request: its status (or why there was none) and how long it took. */
  const timed = async (probe: string, startedAt: number, send: () => Promise<{ status: number; headers: Record<string, string>; text: string }>): Promise<Sample> => {
    const t0 = performance.now();
    const at = Math.round(Date.now() - startedAt);
    try {
      const res = await send();
      return { probe, at, ms: Math.round(performance.now() - t0), status: res.status, contentType: res.headers['content-type'], body: res.text?.slice(0, 160) };
    } catch (err) {
      const e = err as { timeout?: number; code?: string; message?: string };
      const status = e.timeout ? `no answer within ${PROBE_GIVE_UP_MS} ms` : `${e.code ?? 'error'}: ${e.message}`;
      return { probe, at, ms: Math.round(performance.now() - t0), status };
    }
  };

  it.each<[OutageMode, string]>([
    ['blackhole', 'stops answering without closing connections (a network partition)'],
    ['refuse', 'refuses connections'],
  ])('while the database %s (%s): 503 within 5 s on every data route, then every saga finishes exactly once', async (mode) => {
    const t: TenantKeys = await ctx.tenant(undefined, { cpuMillis: 100_000, memoryMb: 100_000 });
    const planned = batch(mode);
    const started: string[] = [];
    for (const p of planned) {
      const res = await ctx.http().post(`/v1/sagas/${p.type}`).set(bearer(t.client)).send(p.body);
      expect({ saga: p.body.name ?? (p.body.agent as { name: string }).name, status: res.status }).toMatchObject({ status: 202 });
      started.push(res.body.sagaId);
    }
    const sagaId = started[0];

    // Mid-flight: delay steps running in several sagas, others already past their first steps.
    await waitFor(async () => {
      const [r] = await rows<{ n: number }>(
        `select count(*)::int as n from events where tenant_id = $1 and type = 'StepStarted' and data->>'step' in ('slow', 'b', 'run-initial-task')`,
        [t.tenantId],
      );
      return r.n >= 4;
    }, { timeoutMs: 20_000 });

    // ---- the outage
    const http = () => ctx.http();
    const probes: { name: string; send: () => Promise<{ status: number; headers: Record<string, string>; text: string }> }[] = [
      { name: 'GET /v1/sagas', send: () => http().get('/v1/sagas').set(bearer(t.client)).timeout(PROBE_GIVE_UP_MS) },
      { name: 'GET /v1/sagas/{id}', send: () => http().get(`/v1/sagas/${sagaId}`).set(bearer(t.client)).timeout(PROBE_GIVE_UP_MS) },
      { name: 'GET /v1/sagas/{id}/events', send: () => http().get(`/v1/sagas/${sagaId}/events`).set(bearer(t.client)).timeout(PROBE_GIVE_UP_MS) },
      {
        name: 'POST /v1/sagas/task-workflow',
        send: () =>
          http()
            .post('/v1/sagas/task-workflow')
            .set(bearer(t.client))
            .send({ name: `probe-${randomUUID().slice(0, 8)}`, tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] })
            .timeout(PROBE_GIVE_UP_MS),
      },
      { name: 'GET /v1/agents', send: () => http().get('/v1/agents').set(bearer(t.client)).timeout(PROBE_GIVE_UP_MS) },
      { name: 'GET /v1/events (operator)', send: () => http().get('/v1/events?limit=5').set(bearer(t.operator)).timeout(PROBE_GIVE_UP_MS) },
      { name: 'GET /ready', send: () => http().get('/ready').timeout(PROBE_GIVE_UP_MS) },
    ];
    const health = { name: 'GET /health', send: () => http().get('/health').timeout(PROBE_GIVE_UP_MS) };

    await proxy.cut(mode);
    const cutAt = Date.now();
    const restored = delay(PARTITION_MS).then(() => proxy.restore());
    let samples: Sample[] = [];
    let healthSamples: Sample[] = [];
    try {
      // Each route probed again and again, all routes at once, while the outage lasts.
      const loop = async (probe: (typeof probes)[number]) => {
        const out: Sample[] = [];
        while (Date.now() - cutAt < PROBE_WINDOW_MS) {
          out.push(await timed(probe.name, cutAt, probe.send));
          await delay(200);
        }
        return out;
      };
      const [data, healthy] = await Promise.all([Promise.all(probes.map(loop)), loop(health)]);
      samples = data.flat();
      healthSamples = healthy;
    } finally {
      await restored;
    }
    const restoredAt = Date.now();

    const summary = probes.map((p) => {
      const mine = samples.filter((s) => s.probe === p.name);
      return `${p.name}: ${mine.length} probes, slowest ${Math.max(...mine.map((s) => s.ms))} ms, statuses ${[...new Set(mine.map((s) => s.status))].join('/')}`;
    });
    const wrong = samples
      .filter((s) => s.status !== 503 || !PROBLEM.test(s.contentType ?? '') || s.ms > ANSWER_WITHIN_MS)
      .map((s) => `${s.probe} sent at +${s.at} ms: ${s.status} ${s.contentType ?? ''} after ${s.ms} ms ${s.body ?? ''}`);
    expect({ wrong, summary }).toEqual({ wrong: [], summary });
    // Each route was asked again and again: none held a probe for the whole outage.
    expect(probes.filter((p) => samples.filter((s) => s.probe === p.name).length < 2).map((p) => p.name)).toEqual([]);
    expect(healthSamples.filter((s) => s.status !== 200 || s.ms > ANSWER_WITHIN_MS).map((s) => `+${s.at} ms: ${s.status} after ${s.ms} ms`)).toEqual([]);

    // ---- after the outage, in the same process: every saga of the tenant (those the probes may
    // have started too) reaches the end its input calls for.
    const sagas = async () =>
      (
        await rows<{ saga_id: string; saga_type: SagaType; input: Record<string, unknown>; last: string }>(
          `select s.data->>'sagaId' as saga_id, s.data->>'sagaType' as saga_type, s.data->'input' as input,
                  (select type from events l where l.stream_id = s.stream_id order by version desc limit 1) as last
             from events s where s.tenant_id = $1 and s.type = 'SagaStarted'`,
          [t.tenantId],
        )
      ).map((r) => ({ ...r, expected: expectedOf(r.saga_type, r.input) }));
    const ended = (s: { last: string }) => ['SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed'].includes(s.last);
    await waitFor(async () => (await sagas()).every(ended), { timeoutMs: 90_000, intervalMs: 250 }).catch(() => undefined);
    const finishedMs = Date.now() - restoredAt;
    const all = await sagas();
    expect(all.filter((s) => started.includes(s.saga_id))).toHaveLength(planned.length);
    const endOf = (expected: Expected) => (expected === 'COMPLETED' ? 'SagaCompleted' : 'SagaCompensated');
    expect({
      finishedMs,
      wrongEnds: all.filter((s) => s.last !== endOf(s.expected)).map((s) => `${s.saga_type} ${s.saga_id} (${JSON.stringify(s.input).slice(0, 60)}): last event ${s.last}`),
    }).toEqual({ finishedMs, wrongEnds: [] });

    // The API says so too (through the proxy, so the pool recovered), and so does the list (the
    // projections recovered).
    for (const s of all) {
      const res = await ctx.http().get(`/v1/sagas/${s.saga_id}`).set(bearer(t.client));
      expect({ sagaId: s.saga_id, status: res.status, saga: res.body.status }).toEqual({ sagaId: s.saga_id, status: 200, saga: s.expected });
    }
    await waitFor(async () => {
      const res = await ctx.http().get('/v1/sagas?limit=500').set(bearer(t.client));
      const listed = new Map<string, string>((res.body.items ?? []).map((i: { sagaId: string; status: string }) => [i.sagaId, i.status]));
      return res.status === 200 && all.every((s) => listed.get(s.saga_id) === s.expected);
    }, { timeoutMs: 30_000, intervalMs: 250 });

    // ---- no domain event twice
    const streams = all.map((s) => `saga-${s.saga_id}`);
    // A task starts, completes or fails once per attempt; it is scheduled, compensated or cancelled once.
    expect(
      await rows(
        `select stream_id, type, data->>'attempt' as attempt, count(*)::int as n from events
          where tenant_id = $1 and category = 'task'
          group by 1, 2, 3 having count(*) > 1`,
        [t.tenantId],
      ),
    ).toEqual([]);
    expect(
      await rows(`select stream_id, count(*)::int as n from events where tenant_id = $1 and type = 'TaskCompleted' group by 1 having count(*) > 1`, [t.tenantId]),
    ).toEqual([]);
    // Agents, services, quota reservations: each fact once.
    expect(
      await rows(
        `select stream_id, type, count(*)::int as n from events
          where tenant_id = $1 and type in ('AgentRegistered', 'AgentActivated', 'PermissionsGranted', 'PermissionsRevoked', 'AgentDecommissioned', 'ServiceRegistered', 'ServiceDeregistered')
          group by 1, 2 having count(*) > 1`,
        [t.tenantId],
      ),
    ).toEqual([]);
    expect(
      await rows(
        `select type, data->>'reservationId' as reservation, count(*)::int as n from events
          where tenant_id = $1 and type in ('ResourcesReserved', 'ResourcesReleased') group by 1, 2 having count(*) > 1`,
        [t.tenantId],
      ),
    ).toEqual([]);
    // Stronger: no domain stream of the tenant holds the same event (type and data) twice.
    expect(
      await rows(`select stream_id, type, count(*)::int as n from events where tenant_id = $1 and category <> 'saga' group by stream_id, type, data having count(*) > 1`, [
        t.tenantId,
      ]),
    ).toEqual([]);
    // A saga starts and ends once; a step succeeds once and is compensated once.
    expect(
      await rows(
        `select stream_id, type, data->>'step' as step, count(*)::int as n from events
          where stream_id = any($1::text[]) and type in ('SagaStarted', 'SagaCompleted', 'SagaCompensated', 'CompensationStarted', 'StepSucceeded', 'StepCompensated')
          group by 1, 2, 3 having count(*) > 1`,
        [streams],
      ),
    ).toEqual([]);

    // ---- compensation in exact reverse completion order (the compensable steps), in the events and
    // in GET /v1/sagas/{id}/compensations
    const events = await rows<Row>(`select stream_id, type, version, data from events where stream_id = any($1::text[]) order by stream_id, version`, [streams]);
    const orderProblems: string[] = [];
    let compensating = 0;
    for (const s of all.filter((x) => x.expected === 'COMPENSATED')) {
      const mine = events.filter((e) => e.stream_id === `saga-${s.saga_id}`);
      const plan = mine[0].data.plan as { steps: { name: string; compensation?: unknown }[] };
      const compensable = new Set(plan.steps.filter((p) => p.compensation).map((p) => p.name));
      const completed = mine.filter((e) => e.type === 'StepSucceeded').map((e) => e.data.step as string);
      const expected = completed.filter((step) => compensable.has(step)).reverse();
      const compensated = mine.filter((e) => e.type === 'StepCompensated').map((e) => e.data.step as string);
      const view = await ctx.http().get(`/v1/sagas/${s.saga_id}/compensations`).set(bearer(t.client));
      const undone = (view.body.entries ?? []).filter((e: { status: string }) => e.status === 'SUCCEEDED').map((e: { step: string }) => e.step);
      if (expected.length > 0) compensating++;
      if (JSON.stringify(compensated) !== JSON.stringify(expected) || JSON.stringify(undone) !== JSON.stringify(expected)) {
        orderProblems.push(`${s.saga_id}: completed ${completed.join(',')}; events compensated ${compensated.join(',')}; API compensations ${view.status} ${undone.join(',')}`);
      }
    }
    expect(orderProblems).toEqual([]);
    // The failing workflows and the refused agents had something to undo.
    expect(compensating).toBeGreaterThanOrEqual(6);
  });
});
