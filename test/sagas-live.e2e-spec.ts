import { randomUUID } from 'crypto';
import { EventEmitter } from 'events';
import { EventSource } from 'eventsource';
import http from 'http';
import { AddressInfo } from 'net';
import { SAGA_EVENT_TYPES } from '@app/sagas';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';
import { postSaga, provisioningBody } from './support/sagas';

jest.setTimeout(120_000);

/** How long an EventSource waits before it reconnects when the server sent no `retry:` (eventsource, like browsers). */
const CLIENT_RETRY_MS = 3000;

/** A request to a /live route as the server saw it; `status` once it has been answered. */
interface LiveRequest {
  sagaId: string;
  lastEventId?: string;
  status?: number;
}

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
  const liveRequests: LiveRequest[] = [];
  const liveArrivals = new EventEmitter();

  beforeAll(async () => {
    ctx = await startE2eApp();
    const server = ctx.app.getHttpServer() as http.Server;
    // Sees every request before the application does, so a test can tell how often a client came.
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const m = /^\/v1\/sagas\/([^/?]+)\/live/.exec(req.url ?? '');
      if (!m) return;
      const seen: LiveRequest = { sagaId: m[1], lastEventId: req.headers['last-event-id'] as string | undefined };
      liveRequests.push(seen);
      res.once('close', () => (seen.status = res.statusCode));
      liveArrivals.emit(m[1], seen);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await ctx.tenant();
    other = await ctx.tenant();
  });
  afterAll(async () => ctx?.close());

  const get = (sagaId: string) => ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(t.client));
  const settle = (sagaId: string, status: string) => waitFor(async () => (await get(sagaId)).body.status === status, { timeoutMs: 60_000 });
  const startWorkflow = async (body: object): Promise<string> => {
    const res = await postSaga(ctx, t.client, 'task-workflow', body);
    expect(res.status).toBe(202);
    return res.body.sagaId;
  };
  const sagaEvents = async (sagaId: string): Promise<SseEvent['data'][]> => (await ctx.http().get(`/v1/sagas/${sagaId}/events`).set(bearer(t.client))).body.events;
  const requestsFor = (sagaId: string) => liveRequests.filter((r) => r.sagaId === sagaId);
  /** The next request to the saga's /live route, or undefined when none comes within `ms`. */
  const nextRequest = (sagaId: string, ms: number) =>
    new Promise<LiveRequest | undefined>((resolve) => {
      const arrived = (r: LiveRequest) => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        liveArrivals.off(sagaId, arrived);
        resolve(undefined);
      }, ms);
      liveArrivals.once(sagaId, arrived);
    });

  /**
   * The `eventsource` client on a saga's /live route, the key in its Authorization header.
   * `stopped` resolves when it gives up for good (an error that leaves it CLOSED), with the status
   * that made it stop, and rejects if it has not within 30 s; `drops` counts the ends of stream
   * after which it meant to reconnect.
   */
  function watchLive(sagaId: string, key: string) {
    const events: { lastEventId: string; type: string; data: SseEvent['data'] }[] = [];
    let drops = 0;
    const es = new EventSource(`${base}/v1/sagas/${sagaId}/live`, {
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...bearer(key) } }),
    });
    for (const type of SAGA_EVENT_TYPES) {
      es.addEventListener(type, (e) => events.push({ lastEventId: e.lastEventId, type: e.type, data: JSON.parse(e.data) }));
    }
    const stopped = new Promise<number | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the client did not stop within 30 s (${drops} reconnects)`)), 30_000).unref();
      es.addEventListener('error', (e) => {
        if (es.readyState !== EventSource.CLOSED) return void drops++;
        clearTimeout(timer);
        resolve(e.code);
      });
    });
    stopped.catch(() => undefined); // awaited by the test; this only keeps an early failure from being reported twice
    return { es, events, stopped, drops: () => drops };
  }

  it('streams every transition of a provisioning from SagaStarted to SagaCompleted, in order, then ends', async () => {
    const started = await postSaga(
      ctx,
      t.client,
      'agent-provisioning',
      provisioningBody({ name: `live-${randomUUID().slice(0, 6)}`, capabilities: ['x'], resources: { cpuMillis: 10, memoryMb: 10 } }),
    );
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
    const started = await postSaga(ctx, t.client, 'task-workflow', { name: 'w', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
    const sagaId = started.body.sagaId;
    const first = await readSse(`${base}/v1/sagas/${sagaId}/live`, bearer(t.client));
    expect(first.events[first.events.length - 1].event).toBe('SagaCompleted');

    const again = await readSse(`${base}/v1/sagas/${sagaId}/live`, bearer(t.client), 10_000);
    expect(again.events.map((e) => e.data.eventId)).toEqual(first.events.map((e) => e.data.eventId));

    const resumed = await readSse(`${base}/v1/sagas/${sagaId}/live`, { ...bearer(t.client), 'Last-Event-ID': '1' }, 10_000);
    expect(resumed.events.map((e) => e.data.version)).toEqual(first.events.slice(2).map((e) => e.data.version));
    // Past the terminal event: 204, so that EventSource clients stop reconnecting.
    const past = await readSse(`${base}/v1/sagas/${sagaId}/live`, { ...bearer(t.client), 'Last-Event-ID': '999' }, 10_000);
    expect(past.status).toBe(204);
    expect(past.raw).toBe('');
  });

  it('streams a compensating saga to SagaCompensated', async () => {
    const started = await postSaga(ctx, t.client, 'task-workflow', {
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
    const started = await postSaga(ctx, t.client, 'task-workflow', { name: 'w', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
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
    const started = await postSaga(ctx, t.client, 'task-workflow', { name: 'slow', tasks: [{ id: 'a', handler: 'delay', dependsOn: [], config: { ms: 3000 } }] });
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

  it('an EventSource reads a finished saga to its terminal event, reconnects once with Last-Event-ID, gets 204 and stops', async () => {
    const sagaId = await startWorkflow({ name: 'done', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] });
    await settle(sagaId, 'COMPLETED');
    const stored = await sagaEvents(sagaId);
    const terminal = stored[stored.length - 1];
    expect(terminal.type).toBe('SagaCompleted');

    const live = watchLive(sagaId, t.client);
    try {
      expect(await live.stopped).toBe(204);
      expect(live.es.readyState).toBe(EventSource.CLOSED);
      expect(live.drops()).toBe(1); // the server ended the first response after SagaCompleted
      expect(live.events.map((e) => e.data.eventId)).toEqual(stored.map((e) => e.eventId));
      expect(live.events.map((e) => [e.type, e.lastEventId])).toEqual(stored.map((e) => [e.type, String(e.version)]));
      expect(requestsFor(sagaId)).toEqual([
        { sagaId, status: 200 },
        { sagaId, lastEventId: String(terminal.version), status: 204 },
      ]);
      // It stays stopped: no request for longer than its reconnection delay.
      expect(await nextRequest(sagaId, CLIENT_RETRY_MS + 2000)).toBeUndefined();
      expect(requestsFor(sagaId)).toHaveLength(2);
    } finally {
      live.es.close();
    }
  });

  it('an EventSource connected to a running saga gets the rest live, then the 204 on its reconnect, and stops', async () => {
    const sagaId = await startWorkflow({ name: 'slow', tasks: [{ id: 'a', handler: 'delay', dependsOn: [], config: { ms: 2000 } }] });
    const live = watchLive(sagaId, t.client);
    try {
      await waitFor(async () => live.events.length > 0);
      // Connected before the saga finished: SagaCompleted has to come on this same response.
      expect((await get(sagaId)).body.status).not.toBe('COMPLETED');

      expect(await live.stopped).toBe(204);
      const stored = await sagaEvents(sagaId);
      expect(live.events.map((e) => e.data.eventId)).toEqual(stored.map((e) => e.eventId));
      expect(live.events[live.events.length - 1].type).toBe('SagaCompleted');
      expect(live.drops()).toBe(1);
      expect(requestsFor(sagaId)).toEqual([
        { sagaId, status: 200 },
        { sagaId, lastEventId: String(stored[stored.length - 1].version), status: 204 },
      ]);
      expect(await nextRequest(sagaId, CLIENT_RETRY_MS + 2000)).toBeUndefined();
      expect(live.es.readyState).toBe(EventSource.CLOSED);
    } finally {
      live.es.close();
    }
  });

  it('answers 204 (no body) to a Last-Event-ID at or past the terminal event, and only the later events to an earlier one', async () => {
    const sagaId = await startWorkflow({ name: 'two', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }, { id: 'b', handler: 'noop', dependsOn: ['a'] }] });
    await settle(sagaId, 'COMPLETED');
    const stored = await sagaEvents(sagaId);
    const last = stored[stored.length - 1].version;
    const url = `${base}/v1/sagas/${sagaId}/live`;
    for (const id of [String(last), String(last + 1), '999999']) {
      const res = await readSse(url, { ...bearer(t.client), 'Last-Event-ID': id }, 10_000);
      expect({ id, status: res.status, contentType: res.contentType, raw: res.raw }).toEqual({ id, status: 204, contentType: undefined, raw: '' });
    }
    const earlier = await readSse(url, { ...bearer(t.client), 'Last-Event-ID': String(last - 2) }, 10_000);
    expect(earlier.status).toBe(200);
    expect(earlier.events.map((e) => e.data.eventId)).toEqual(stored.slice(last - 1).map((e) => e.eventId));
    expect(earlier.events.map((e) => e.event)).toEqual([stored[last - 1].type, 'SagaCompleted']);
  });

  it('COMPENSATION_FAILED: 204 at its SagaCompensationFailed; after an operator moved the saga on, that reconnect streams what followed', async () => {
    const sagaId = await startWorkflow({
      name: 'stuck',
      tasks: [
        { id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 }, compensation: { handler: 'fail', config: { message: 'cannot undo a' } } },
        { id: 'b', handler: 'fail', dependsOn: ['a'], retry: { maxAttempts: 1, backoffMs: 0 } },
      ],
    });
    const url = `${base}/v1/sagas/${sagaId}/live`;
    // The stream ends at SagaCompensationFailed: an operator may never come.
    const first = await readSse(url, bearer(t.client));
    const parked = first.events[first.events.length - 1];
    expect(parked.event).toBe('SagaCompensationFailed');
    const atParked = { ...bearer(t.client), 'Last-Event-ID': String(parked.data.version) };
    expect((await readSse(url, atParked, 10_000)).status).toBe(204);

    const skip = await ctx.http().post(`/v1/sagas/${sagaId}/skip`).set(bearer(t.operator)).send({ step: 'a', reason: 'undone by hand' });
    expect(skip.status).toBe(202);
    await settle(sagaId, 'COMPENSATED');
    const stored = await sagaEvents(sagaId);
    const resumed = await readSse(url, atParked, 10_000);
    expect(resumed.status).toBe(200);
    expect(resumed.events.map((e) => e.data.eventId)).toEqual(stored.slice(parked.data.version + 1).map((e) => e.eventId));
    expect(resumed.events[0].event).toBe('CompensationSkipped');
    const done = resumed.events[resumed.events.length - 1];
    expect(done.event).toBe('SagaCompensated');
    expect((await readSse(url, { ...bearer(t.client), 'Last-Event-ID': String(done.data.version) }, 10_000)).status).toBe(204);
  });

  it('documents the 204 in the OpenAPI document', async () => {
    const doc = await ctx.http().get('/docs-json');
    expect(Object.keys(doc.body.paths['/v1/sagas/{sagaId}/live'].get.responses)).toEqual(expect.arrayContaining(['200', '204', '404']));
  });
});
