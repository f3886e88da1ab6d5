import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';
import { delay } from '@app/database';
import { bearer, E2eContext, TenantKeys } from './e2e-app';

/**
 * Helpers for specs of the agent work protocol (API.md "Agents: the work protocol"), all over HTTP:
 * provisioning an agent and minting its key, raw protocol calls as an instance makes them, and the
 * example agent (examples/agents/example-agent.ts) as a real child process.
 */

const REPO_ROOT = join(__dirname, '..', '..');
const EXAMPLE_AGENT = join('examples', 'agents', 'example-agent.ts');
/** A child still running this long after SIGTERM is killed (SIGKILL). */
const KILL_AFTER_MS = 10_000;

export interface HttpAnswer<T = any> {
  status: number;
  contentType: string;
  body: T;
}

/** What an instance's poll answers per task. */
export interface PolledTask {
  taskId: string;
  lockToken: string;
  lockedUntil: string;
  sagaId: string;
  capability: string;
  priority: 'LOW' | 'NORMAL' | 'HIGH' | 'CRITICAL';
  attempt: number;
  input: any;
  traceparent?: string;
}

/** A POST with `key` to the listening API at `baseUrl`, as an agent in another process makes it. */
export async function postJson<T = any>(baseUrl: string, key: string, path: string, body: unknown): Promise<HttpAnswer<T>> {
  const res = await fetch(baseUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text so the assertion shows it
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: parsed };
}

/**
 * One agent instance driven by hand (raw HTTP): it heartbeats in the background every
 * `heartbeatEveryMs` (so that the monitor never takes it OFFLINE while a test waits), and each
 * protocol call is a plain request whose answer the test inspects.
 */
export class RawInstance {
  private timer?: NodeJS.Timeout;
  private beating?: Promise<unknown>;

  constructor(
    readonly baseUrl: string,
    readonly key: string,
    readonly instanceId: string,
  ) {}

  heartbeat(): Promise<HttpAnswer> {
    return postJson(this.baseUrl, this.key, '/v1/agent/heartbeat', { instanceId: this.instanceId });
  }

  /** A first heartbeat (must be 200), then one every `heartbeatEveryMs` until `stop()`. */
  async start(heartbeatEveryMs = 200): Promise<this> {
    const first = await this.heartbeat();
    if (first.status !== 200) throw new Error(`heartbeat of ${this.instanceId}: ${first.status} ${JSON.stringify(first.body)}`);
    this.timer = setInterval(() => {
      this.beating ??= this.heartbeat()
        .catch(() => undefined)
        .finally(() => (this.beating = undefined));
    }, heartbeatEveryMs);
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
  }

  poll(opts: { maxTasks?: number; waitMs?: number; lockMs?: number } = {}): Promise<HttpAnswer<{ tasks: PolledTask[] }>> {
    return postJson(this.baseUrl, this.key, '/v1/agent/tasks/poll', { instanceId: this.instanceId, ...opts });
  }

  /** A poll that must answer 200; its tasks. */
  async tasks(opts: { maxTasks?: number; waitMs?: number; lockMs?: number } = {}): Promise<PolledTask[]> {
    const res = await this.poll(opts);
    if (res.status !== 200) throw new Error(`poll of ${this.instanceId}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.tasks;
  }

  complete(taskId: string, lockToken: string, output?: unknown): Promise<HttpAnswer> {
    return postJson(this.baseUrl, this.key, `/v1/agent/tasks/${taskId}/complete`, { lockToken, ...(output === undefined ? {} : { output }) });
  }

  fail(taskId: string, lockToken: string, error: { message: string; code?: string }, retryable?: boolean): Promise<HttpAnswer> {
    return postJson(this.baseUrl, this.key, `/v1/agent/tasks/${taskId}/fail`, { lockToken, error, ...(retryable === undefined ? {} : { retryable }) });
  }

  extend(taskId: string, lockToken: string, lockMs: number): Promise<HttpAnswer> {
    return postJson(this.baseUrl, this.key, `/v1/agent/tasks/${taskId}/extend`, { lockToken, lockMs });
  }

  progress(taskId: string, lockToken: string, percent: number, message?: string): Promise<HttpAnswer> {
    return postJson(this.baseUrl, this.key, `/v1/agent/tasks/${taskId}/progress`, { lockToken, percent, ...(message ? { message } : {}) });
  }
}

/** The example agent as a child process (SAGA_API_URL, SAGA_AGENT_KEY, SAGA_INSTANCE_ID). */
export class ExampleAgentProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = '';
  private running = true;

  private constructor(
    readonly instanceId: string,
    private readonly proc: ChildProcess,
  ) {
    const append = (chunk: Buffer) => {
      this.out = (this.out + chunk.toString()).slice(-20_000);
    };
    proc.stdout!.on('data', append);
    proc.stderr!.on('data', append);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.running = false;
        resolve({ code, signal });
      }),
    );
  }

  static start(baseUrl: string, key: string, instanceId: string, env: Record<string, string> = {}): ExampleAgentProcess {
    const proc = spawn(process.execPath, ['-r', '@swc-node/register', EXAMPLE_AGENT], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, SAGA_API_URL: baseUrl, SAGA_AGENT_KEY: key, SAGA_INSTANCE_ID: instanceId },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ExampleAgentProcess(instanceId, proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.running;
  }

  /** What it printed (the tail), for failure messages. */
  get output(): string {
    return this.out;
  }

  /** SIGTERM (the agent drains and exits), SIGKILL if it is still there after KILL_AFTER_MS. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.running && this.proc.kill('SIGKILL'), KILL_AFTER_MS);
    await this.exited;
    clearTimeout(killer);
  }
}

/** Everything a test started (instances' heartbeats, child processes), to stop after it. */
export class Started {
  private readonly items: { stop(): Promise<void> }[] = [];

  add<T extends { stop(): Promise<void> }>(item: T): T {
    this.items.push(item);
    return item;
  }

  async stopAll(): Promise<void> {
    const items = this.items.splice(0);
    await Promise.all(items.map((i) => i.stop().catch(() => undefined)));
  }
}

export interface ProvisionedAgent {
  agentId: string;
  /** An `agent` key of it. */
  key: string;
}

/** GET /v1/sagas/{id} with `key` (must be 200). */
export async function sagaView(ctx: E2eContext, key: string, sagaId: string): Promise<any> {
  const res = await ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(key));
  if (res.status !== 200) throw new Error(`GET saga ${sagaId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Waits until the saga has `status`; a terminal status other than it fails at once. */
export async function waitForSaga(ctx: E2eContext, key: string, sagaId: string, status: string, timeoutMs = 20_000): Promise<any> {
  const terminal = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await sagaView(ctx, key, sagaId);
    if (view.status === status) return view;
    const steps = JSON.stringify(view.steps.map((s: any) => [s.name, s.status, s.attempts, s.errorCode, s.error]));
    if (terminal.includes(view.status)) throw new Error(`saga ${sagaId} ended ${view.status}, not ${status}: ${steps}`);
    if (Date.now() > deadline) throw new Error(`saga ${sagaId} not ${status} within ${timeoutMs} ms (now ${view.status}: ${steps})`);
    await delay(100);
  }
}

/** The saga's step named `name` in `view`. */
export const stepOf = (view: any, name: string): any => view.steps.find((s: any) => s.name === name);

/** Provisions an ACTIVE agent of tenant `t` with `capabilities` and mints an agent key for it. */
export async function provisionWorkingAgent(ctx: E2eContext, t: TenantKeys, capabilities: string[], name?: string): Promise<ProvisionedAgent> {
  const started = await ctx
    .http()
    .post('/v1/sagas/agent-provisioning')
    .set(bearer(t.client))
    .send({
      agent: {
        name: name ?? `translator-${Math.random().toString(36).slice(2, 8)}`,
        type: 'example',
        capabilities,
        permissions: ['read'],
        resources: { cpuMillis: 100, memoryMb: 128 },
      },
    });
  if (started.status !== 202) throw new Error(`agent provisioning: ${started.status} ${JSON.stringify(started.body)}`);
  const done = await waitForSaga(ctx, t.client, started.body.sagaId, 'COMPLETED', 30_000);
  const agentId = done.steps[0]?.output?.agentId;
  if (typeof agentId !== 'string') throw new Error(`register-agent output has no agentId: ${JSON.stringify(done.steps[0])}`);
  const keyed = await ctx.http().post(`/v1/agents/${agentId}/keys`).set(bearer(t.operator)).send({ name: 'test instances' });
  if (keyed.status !== 201) throw new Error(`agent key: ${keyed.status} ${JSON.stringify(keyed.body)}`);
  return { agentId, key: keyed.body.key };
}

export interface WorkflowTaskSpec {
  id: string;
  handler: string;
  dependsOn?: string[];
  config?: Record<string, unknown>;
  priority?: 'LOW' | 'NORMAL' | 'HIGH' | 'CRITICAL';
  retry?: { maxAttempts: number; backoffMs: number };
  timeoutMs?: number;
  queue?: { delayMs?: number; ttlMs?: number };
  compensation?: { handler: string; config?: Record<string, unknown> };
}

/** POST /v1/sagas/task-workflow (client key of `t`; must be 202): the saga id. */
export async function startWorkflow(ctx: E2eContext, t: TenantKeys, tasks: WorkflowTaskSpec[], maxParallel = 64): Promise<string> {
  const res = await ctx
    .http()
    .post('/v1/sagas/task-workflow')
    .set(bearer(t.client))
    .send({ name: 'agents-work', maxParallel, tasks: tasks.map((task) => ({ dependsOn: [], ...task })) });
  if (res.status !== 202) throw new Error(`task-workflow start: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.sagaId;
}

export interface QueueRow {
  capability: string;
  pending: number;
  locked: number;
  delayed: number;
  oldestPendingAgeMs: number;
  agents: Record<string, number>;
}

/** GET /v1/queues (operator of `t`): the row of `capability`, if there is one. */
export async function queueOf(ctx: E2eContext, t: TenantKeys, capability: string): Promise<QueueRow | undefined> {
  const res = await ctx.http().get('/v1/queues').set(bearer(t.operator));
  if (res.status !== 200) throw new Error(`GET /v1/queues: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as QueueRow[]).find((q) => q.capability === capability);
}

/** GET /v1/sagas/{id}/events (client of `t`): the event types per step, e.g. counts of StepSucceeded. */
export async function sagaEvents(ctx: E2eContext, t: TenantKeys, sagaId: string): Promise<{ type: string; data: any }[]> {
  const res = await ctx.http().get(`/v1/sagas/${sagaId}/events?limit=1000`).set(bearer(t.client));
  if (res.status !== 200) throw new Error(`GET saga events: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.events;
}

/** How many events of `type` the saga has per step. */
export function countPerStep(events: { type: string; data: any }[], type: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) if (e.type === type) counts[e.data.step] = (counts[e.data.step] ?? 0) + 1;
  return counts;
}
