import { randomUUID } from 'crypto';
import http from 'http';
import { AddressInfo } from 'net';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';

jest.setTimeout(120_000);

interface SseEvent {
  id?: string;
  event: string;
  data: { type: string; version: number; streamId: string; eventId: string; globalPosition: number; metadata: { tenantId: string }; recordedAt: string; data: unknown };
}

/** Reads a whole text/event-stream response (it ends after a terminal saga event), frame by frame. */
function readSse(url: string, headers: Record<string, string>, timeoutMs = 60_000): Promise<{ status: number; contentType?: string; events: SseEvent[]; raw: string; arrivals: number[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let raw = '';
      let buffer = '';
      const events: SseEvent[] = [];
      const arrivals: number[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue; // comment (heartbeat)
            const i = line.indexOf(':');
            fields[line.slice(0, i)] = line.slice(i + 1).replace(/^ /, '');
          }
          if (fields.event) {
            events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
            arrivals.push(Date.now());
          }
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], events, raw, arrivals });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`the event stream did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', reject);
  });
}

describe('GET /v1/sagas/{sagaId}/live (server-sent events)', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;
  let base: string;

  beforeAll(async () => {
    ctx = await startE2eApp();
    const server = ctx.app.getHttpServer() as http.Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await ctx.tenant();
    other = await ctx.tenant();
  });
  afterAll(async () => ctx?.close());

  it('streams every transition of a provisioning from SagaStarted to SagaCompleted, in order, then ends', async () => {
    const started = await ctx
      .http()
      .post('/v1/sagas/agent-provisioning')
      .set(bearer(t.client))
      .send({ agent: { name: `live-${randomUUID().slice(0, 6)}`, type: 'worker', capabilities: ['x'], permissions: ['read'], resources: { cpuMillis: 10, memoryMb: 10 } } });
    expect(started.status).toBe(202);
    const sagaId = started.body.sagaId;

    const live = await readSse(`${base}/v1/sagas/${sagaId}/live`, bearer(t.client));
    expect(live.status).toBe(200);
    expect(live.contentType).toMatch(/^text\/event-stream/);
    const types = live.events.map((e) => e.event);
    expect(types[0]).toBe('SagaStarted');
    expect(types[types.length - 1]).toBe('SagaCompleted');
    expect(types.filter((x) => x === 'StepSucceeded')).toHaveLength(6);
    // One frame per event, each carrying the whole event, versions gapless from 0.
    expect(live.events.map((e) => e.data.version)).toEqual(live.events.map((_, i) => i));
    expect(live.events.map((e) => e.id)).toEqual(live.events.map((_, i) => String(i)));
    for (const e of live.events) {
      expect(e.data.type).toBe(e.event);
      expect(e.data).toMatchObject({ streamId: `saga-${sagaId}`, eventId: expect.any(String), globalPosition: expect.any(Number), recordedAt: expect.any(String), metadata: { tenantId: t.tenantId } });
    }
    // The same events as the saga's stream.
    const stream = await ctx.http().get(`/v1/sagas/${sagaId}/events`).set(bearer(t.client));
    expect(live.events.map((e) => e.data.eventId)).toEqual(stream.body.events.map((e: { eventId: string }) => e.eventId));
  });

  it('replays the history of a finished saga at once and ends; resumes after Last-Event-ID', async () => {
    const started = await ctx.http().post('/v1/sagas/task-workflow').set(bearer(t.client)).send({ name: 'w', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
    const sagaId = started.body.sagaId;
    const first = await readSse(`${base}/v1/sagas/${sagaId}/live`, bearer(t.client));
    expect(first.events[first.events.length - 1].event).toBe('SagaCompleted');

    const again = await readSse(`${base}/v1/sagas/${sagaId}/live`, bearer(t.client), 10_000);
    expect(again.events.map((e) => e.data.eventId)).toEqual(first.events.map((e) => e.data.eventId));

    const resumed = await readSse(`${base}/v1/sagas/${sagaId}/live`, { ...bearer(t.client), 'Last-Event-ID': '1' }, 10_000);
    expect(resumed.events.map((e) => e.data.version)).toEqual(first.events.slice(2).map((e) => e.data.version));
    const past = await readSse(`${base}/v1/sagas/${sagaId}/live`, { ...bearer(t.client), 'Last-Event-ID': '999' }, 10_000);
    expect(past.status).toBe(200);
    expect(past.events).toEqual([]);
  });

  it('streams a compensating saga to SagaCompensated', async () => {
    const started = await ctx
      .http()
      .post('/v1/sagas/task-workflow')
      .set(bearer(t.client))
      .send({
        name: 'fails',
        tasks: [
          { id: 'a', handler: 'echo', dependsOn: [], compensation: { handler: 'noop' } },
          { id: 'b', handler: 'delay', dependsOn: ['a'], config: { ms: 300 } },
          { id: 'c', handler: 'fail', dependsOn: ['b'], retry: { maxAttempts: 1, backoffMs: 0 } },
        ],
      });
    const live = await readSse(`${base}/v1/sagas/${started.body.sagaId}/live`, bearer(t.client));
    const types = live.events.map((e) => e.event);
    expect(types[0]).toBe('SagaStarted');
    expect(types).toEqual(expect.arrayContaining(['StepFailed', 'CompensationStarted', 'StepCompensationStarted', 'StepCompensated']));
    expect(types.indexOf('CompensationStarted')).toBeGreaterThan(types.indexOf('StepFailed'));
    expect(types[types.length - 1]).toBe('SagaCompensated');
  });

  it("answers 404 problem+json (not a stream) for another tenant's or an unknown saga, 401 without a key", async () => {
    const started = await ctx.http().post('/v1/sagas/task-workflow').set(bearer(t.client)).send({ name: 'w', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
    const foreign = await readSse(`${base}/v1/sagas/${started.body.sagaId}/live`, bearer(other.client), 10_000);
    expect(foreign.status).toBe(404);
    expect(foreign.contentType).toMatch(/application\/problem\+json/);
    expect(JSON.parse(foreign.raw)).toMatchObject({ status: 404 });
    expect((await readSse(`${base}/v1/sagas/${randomUUID()}/live`, bearer(t.client), 10_000)).status).toBe(404);
    expect((await readSse(`${base}/v1/sagas/${started.body.sagaId}/live`, {}, 10_000)).status).toBe(401);
    // The admin key may watch any tenant's saga.
    const admin = await readSse(`${base}/v1/sagas/${started.body.sagaId}/live`, bearer(ctx.adminKey));
    expect(admin.events[admin.events.length - 1].event).toBe('SagaCompleted');
  });

  it('stops watching when the client goes away', async () => {
    const started = await ctx
      .http()
      .post('/v1/sagas/task-workflow')
      .set(bearer(t.client))
      .send({ name: 'slow', tasks: [{ id: 'a', handler: 'delay', dependsOn: [], config: { ms: 3000 } }] });
    const got = await new Promise<string>((resolve, reject) => {
      const req = http.get(`${base}/v1/sagas/${started.body.sagaId}/live`, { headers: bearer(t.client) }, (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) => {
          req.destroy();
          resolve(chunk);
        });
      });
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    });
    expect(got).toMatch(/event: SagaStarted/);
    // The server is still healthy and the saga finishes regardless.
    const done = await readSse(`${base}/v1/sagas/${started.body.sagaId}/live`, bearer(t.client));
    expect(done.events[done.events.length - 1].event).toBe('SagaCompleted');
  });
});
