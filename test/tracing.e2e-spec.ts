import { randomBytes } from 'crypto';
import { createServer, IncomingMessage, Server } from 'http';
import { AddressInfo } from 'net';
import { gunzipSync } from 'zlib';
import { createTestDatabase, TestDatabase, waitFor } from '@app/database';
import { AgentProcess } from './support/agent-processes';
import { RawInstance } from './support/agents';
import { freePort } from './support/spawn-platform';

/*
 * DESIGN.md "Failure promises at the edges": OpenTelemetry traces follow a saga across the api, the
 * workers and its `http` calls. The platform runs as real processes (`npm run start:api` and two
 * `npm run start:worker`) with the standard OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP
 * receiver in this test; the saga's `http` step calls a server of the test that records the
 * `traceparent` it gets. The worker running the saga is SIGKILLed mid-way: the other one finishes
 * it, in the same trace.
 */

jest.setTimeout(120_000);

const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4 } as const;
/** The step during which the worker is killed (long enough to see the kill land inside it). */
const KILL_DURING_MS = 5_000;
/** How soon the other worker takes an abandoned saga over (its lease runs out). */
const LEASE_MS = 2_000;

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  /** The exporting process's resource (service.name, process.pid, ...). */
  resource: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttributes = { key: string; value: OtlpValue }[] | undefined;

const attributesOf = (list: OtlpAttributes): Record<string, unknown> =>
  Object.fromEntries(
    (list ?? []).map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue))]),
  );

/** OTLP/JSON ids are hex; accept base64 too (what protobuf-style JSON would carry). */
const hexId = (id: string | undefined): string => (!id ? '' : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));

/** An OTLP/HTTP collector in a few lines: POST /v1/traces, JSON (as the platform's exporter sends it). */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes = new Set<string>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver!: OtlpReceiver;
    const server = createServer(async (req, res) => {
      const body = await readBody(req);
      if (req.method === 'POST' && req.url === '/v1/traces') {
        receiver.contentTypes.add(String(req.headers['content-type']));
        receiver.collect(JSON.parse(body.toString('utf8')));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    receiver = new OtlpReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private collect(request: {
    resourceSpans?: { resource?: { attributes?: OtlpAttributes }; scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: OtlpAttributes }[] }[] }[];
  }): void {
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributesOf(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: hexId(s.traceId),
            spanId: hexId(s.spanId),
            parentSpanId: hexId(s.parentSpanId),
            name: s.name,
            kind: s.kind,
            attributes: attributesOf(s.attributes),
            resource,
          });
        }
      }
    }
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** The outside system the saga's `http` step calls: records the `traceparent` of each request. */
async function startTarget(): Promise<{ server: Server; url: string; traceparents: string[] }> {
  const traceparents: string[] = [];
  const server = createServer((req, res) => {
    traceparents.push(String(req.headers.traceparent ?? ''));
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, traceparents };
}

const pidOf = (span: ReceivedSpan) => Number(span.resource['process.pid']);

describe('tracing: one trace per saga, across the api, the workers, a crash and the `http` calls', () => {
  let db: TestDatabase;
  let receiver: OtlpReceiver;
  let target: Awaited<ReturnType<typeof startTarget>>;
  let api: AgentProcess;
  let workers: AgentProcess[] = [];
  let base: string;
  const adminKey = `sk_admin_${randomBytes(16).toString('hex')}`;
  /** The tenant's keys by role. */
  const keys: Record<'client' | 'operator', string> = { client: '', operator: '' };

  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  const sagaStatus = async (sagaId: string) => (await call('GET', `/v1/sagas/${sagaId}`, keys.client)).body.status;

  beforeAll(async () => {
    [db, receiver, target] = await Promise.all([createTestDatabase({ poolSize: 1 }), OtlpReceiver.start(), startTarget()]);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      DATABASE_URL: db.url,
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: '4',
      WORKER_POLL_MS: '50',
      WORKER_CONCURRENCY: '8',
      WORKER_LEASE_MS: String(LEASE_MS),
      // Agent instances are driven by the test (no local runtime).
      AGENT_RUNTIME: 'external',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    const entry = (file: string, ...args: string[]) => [process.execPath, '-r', '@swc-node/register', file, ...args];
    api = AgentProcess.spawn('api', entry('apps/api/src/main.ts', '--api-only'), { ...env, PORT: String(port), HOST: '127.0.0.1' });
    workers = [1, 2].map((n) => AgentProcess.spawn(`worker ${n}`, entry('apps/worker/src/main.ts'), env));
    await Promise.all([api.untilOutput(/listening on/, 90_000), ...workers.map((w) => w.untilOutput(/worker started/, 90_000))]);

    const tenantId = `t-${randomBytes(4).toString('hex')}`;
    const tenant = await call('POST', '/v1/tenants', adminKey, { id: tenantId, name: 'Traced', quota: { cpuMillis: 1000, memoryMb: 1024 }, allowedPermissions: ['read'] });
    expect(tenant.status).toBe(201);
    for (const role of ['client', 'operator'] as const) {
      const key = await call('POST', '/v1/api-keys', adminKey, { tenantId, role, name: `${role} key` });
      expect(key.status).toBe(201);
      keys[role] = key.body.key;
    }
  });

  afterAll(async () => {
    // SIGTERM first: the processes flush their spans and give their leases back.
    await Promise.all([api, ...workers].filter((p) => p?.running).map((p) => p.kill('SIGTERM')));
    await AgentProcess.killLeftovers();
    await Promise.all([receiver?.close(), new Promise((resolve) => (target?.server ? target.server.close(resolve) : resolve(undefined)))]);
    await db?.drop();
  });

  it('holds the request, the saga, each step attempt on the worker that ran it, and the outgoing call; after a worker is killed mid-saga the rest stays in it', async () => {
    const client = keys.client;
    const started = await call('POST', '/v1/sagas/task-workflow', client, {
      name: 'traced',
      tasks: [
        { id: 'first', handler: 'delay', dependsOn: [], config: { ms: 300 } },
        { id: 'notify', handler: 'http', dependsOn: ['first'], config: { url: target.url, body: { order: 42 } } },
        { id: 'settle', handler: 'delay', dependsOn: ['notify'], config: { ms: KILL_DURING_MS }, timeoutMs: 60_000 },
        { id: 'last', handler: 'echo', dependsOn: ['settle'], config: { done: true } },
      ],
    });
    expect(started.status).toBe(202);
    const sagaId: string = started.body.sagaId;

    const stepSpans = (step: string) => receiver.spans.filter((s) => s.attributes['saga.id'] === sagaId && s.attributes['saga.step'] === step && s.name.startsWith('saga.step'));
    // The worker that ran the `http` step goes on with `settle`: killed while it waits there.
    const notify = await waitFor(() => stepSpans('notify')[0], { timeoutMs: 30_000, intervalMs: 50, what: 'the span of the `http` step' });
    const victim = workers.find((w) => w.pid === pidOf(notify));
    expect(victim).toBeDefined();
    await victim!.kill('SIGKILL');
    const survivor = workers.find((w) => w !== victim)!;
    const mid = await call('GET', `/v1/sagas/${sagaId}`, client);
    // The kill landed mid-saga: `settle` had not finished.
    expect(mid.body.steps.find((s: { name: string }) => s.name === 'settle').status).toBe('RUNNING');

    await waitFor(async () => (await sagaStatus(sagaId)) === 'COMPLETED', {
      timeoutMs: 45_000,
      intervalMs: 200,
      what: 'the saga completed by the other worker',
    });
    await waitFor(() => stepSpans('last').length > 0 && stepSpans('settle').length > 0, { timeoutMs: 15_000, intervalMs: 50, what: 'the spans of the steps after the kill' });

    // The request that started the saga roots the trace.
    const request = receiver.spans.find((s) => s.kind === SPAN_KIND.SERVER && s.attributes['http.route'] === '/v1/sagas/task-workflow');
    expect(request).toMatchObject({ name: 'POST /v1/sagas/task-workflow', parentSpanId: '', resource: { 'service.name': 'saga-platform-api' } });
    expect(request!.attributes['http.response.status_code']).toBe(202);
    const traceId = request!.traceId;

    const start = receiver.spans.find((s) => s.name === 'saga.start' && s.attributes['saga.id'] === sagaId);
    expect(start).toMatchObject({ traceId, parentSpanId: request!.spanId, resource: { 'service.name': 'saga-platform-api' } });
    // The start's appends are in it too.
    expect(receiver.spans.some((s) => s.name.startsWith('event-store append') && s.parentSpanId === start!.spanId)).toBe(true);

    // Every step attempt: a child of the saga's start, on the worker that ran it (its id names its pid).
    const attempts = ['first', 'notify', 'settle', 'last'].flatMap(stepSpans);
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    for (const a of attempts) {
      expect({ step: a.attributes['saga.step'], traceId: a.traceId, parent: a.parentSpanId, service: a.resource['service.name'] }).toEqual({
        step: a.attributes['saga.step'],
        traceId,
        parent: start!.spanId,
        service: 'saga-platform-worker',
      });
      expect(String(a.attributes['saga.worker.id'])).toContain(`:${pidOf(a)}:`);
      expect(a.attributes['saga.step.outcome']).toBe('succeeded');
    }
    // Before the kill the victim ran `notify`; after it, the survivor ran the rest.
    expect(pidOf(notify)).toBe(victim!.pid);
    for (const step of ['settle', 'last']) expect(stepSpans(step).map(pidOf)).toEqual([survivor.pid]);

    // The outgoing call: a client span under the `http` step, whose context the server received.
    const outgoing = receiver.spans.find((s) => s.kind === SPAN_KIND.CLIENT && s.parentSpanId === notify.spanId && s.attributes['http.request.method']);
    expect(outgoing).toMatchObject({ traceId, name: 'POST', attributes: { 'http.request.method': 'POST', 'http.response.status_code': 200, 'url.full': target.url } });
    expect(target.traceparents).toEqual([`00-${traceId}-${outgoing!.spanId}-01`]);

    // Nothing of this saga anywhere else: one trace, across three processes and a crash.
    const ofSaga = receiver.spans.filter((s) => s.attributes['saga.id'] === sagaId);
    expect(new Set(ofSaga.map((s) => s.traceId))).toEqual(new Set([traceId]));
    expect(new Set(ofSaga.map(pidOf))).toEqual(new Set([api.pid, victim!.pid, survivor.pid]));
    expect(receiver.contentTypes).toEqual(new Set(['application/json']));
  });
  it('hands an agent task the trace of its saga (`traceparent` in the poll response)', async () => {
    const provisioning = await call('POST', '/v1/sagas/agent-provisioning', keys.client, {
      agent: { name: 'translator', type: 'example', capabilities: ['translate'], permissions: ['read'], resources: { cpuMillis: 100, memoryMb: 128 } },
    });
    expect(provisioning.status).toBe(202);
    await waitFor(async () => (await sagaStatus(provisioning.body.sagaId)) === 'COMPLETED', { timeoutMs: 30_000, intervalMs: 200, what: 'the agent provisioned' });
    const agentId: string = (await call('GET', `/v1/sagas/${provisioning.body.sagaId}`, keys.client)).body.steps[0].output.agentId;
    const agentKey = await call('POST', `/v1/agents/${agentId}/keys`, keys.operator, { name: 'test instance' });
    expect(agentKey.status).toBe(201);
    const instance = await new RawInstance(base, agentKey.body.key, 'translator-1').start();
    try {
      const started = await call('POST', '/v1/sagas/task-workflow', keys.client, {
        name: 'translated',
        tasks: [{ id: 'translate', handler: 'agent:translate', dependsOn: [], config: { text: 'hello', to: 'fr' } }],
      });
      expect(started.status).toBe(202);
      const sagaId: string = started.body.sagaId;
      const task = await waitFor(async () => (await instance.tasks({ waitMs: 2_000 })).find((t) => t.sagaId === sagaId), { timeoutMs: 30_000, what: 'the agent task' });

      const [, traceId, parentId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(task.traceparent ?? '') ?? [];
      const start = await waitFor(() => receiver.spans.find((s) => s.name === 'saga.start' && s.attributes['saga.id'] === sagaId), { timeoutMs: 10_000, what: 'the saga.start span' });
      expect(traceId).toBe(start.traceId);
      // The attempt's hand-over to the agent: a producer span of the saga, whose context the agent got.
      const handOver = await waitFor(() => receiver.spans.find((s) => s.spanId === parentId), { timeoutMs: 10_000, what: 'the span the agent continues' });
      expect(handOver).toMatchObject({
        traceId,
        parentSpanId: start.spanId,
        name: 'saga.agent_task translate',
        kind: SPAN_KIND.PRODUCER,
        attributes: { 'saga.id': sagaId, 'saga.step': 'translate', 'saga.agent_task.id': task.taskId, 'saga.agent_task.capability': 'translate' },
      });

      expect((await instance.complete(task.taskId, task.lockToken, { text: 'bonjour' })).status).toBe(200);
      await waitFor(async () => (await sagaStatus(sagaId)) === 'COMPLETED', { timeoutMs: 20_000, intervalMs: 200, what: 'the saga completed' });
    } finally {
      await instance.stop();
    }
  });
});
