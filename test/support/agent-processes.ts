import { ChildProcess, spawn } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { waitFor } from '@app/database';
import { bearer, E2eContext, TenantKeys } from './e2e-app';

/**
 * Agent instances as real processes for the agent e2e specs: processes a test spawns itself
 * (tracked here, killed by pid in `afterAll`), small inline node agents, and a look at the children
 * the worker's local runtime spawned (this Jest worker's own children, found by their environment).
 */

export const REPO_ROOT = join(__dirname, '..', '..');
export const EXAMPLE_AGENT = join(REPO_ROOT, 'examples', 'agents', 'example-agent.ts');
export const PYTHON_AGENT = join(REPO_ROOT, 'examples', 'agents', 'agent.py');

/** The example agent, as the local runtime runs it. */
export const exampleAgentCommand = (): string[] => [process.execPath, '-r', '@swc-node/register', EXAMPLE_AGENT];

/** Shared by the inline agents: the protocol in a few lines of plain JavaScript (global fetch). */
const PROTOCOL_JS = `
const api = process.env.SAGA_API_URL, key = process.env.SAGA_AGENT_KEY, instanceId = process.env.SAGA_INSTANCE_ID;
// Never outlive the process that spawned us (its end closes our stdin).
process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();
const post = async (path, body) => {
  const res = await fetch(api + path, { method: 'POST', headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(path + ' answered ' + res.status + ' ' + text);
  return text ? JSON.parse(text) : {};
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let interval = 500, beats = 0;
const beat = async () => {
  try {
    const r = await post('/v1/agent/heartbeat', { instanceId });
    interval = r.heartbeatIntervalMs;
    if (beats++ === 0) console.log('HEARTBEAT ' + r.serviceStatus);
  } catch (e) { console.error('heartbeat failed: ' + e.message); }
  setTimeout(beat, interval);
};
`;

/**
 * Heartbeats, locks LOCK_TASKS tasks (default 10) with LOCK_MS (default 60 000) in as many polls as
 * it takes, prints `LOCKED {taskId, sagaId}` per task and `ALL_LOCKED n`, then never completes
 * anything: it keeps heartbeating until it is killed.
 */
export const LOCKER_JS = `${PROTOCOL_JS}
(async () => {
  await beat();
  const want = Number(process.env.LOCK_TASKS || 10), lockMs = Number(process.env.LOCK_MS || 60000);
  const locked = [];
  while (locked.length < want) {
    try {
      const r = await post('/v1/agent/tasks/poll', { instanceId, maxTasks: want - locked.length, waitMs: 1000, lockMs });
      for (const t of r.tasks) { locked.push(t.taskId); console.log('LOCKED ' + JSON.stringify({ taskId: t.taskId, sagaId: t.sagaId, lockedUntil: t.lockedUntil })); }
    } catch (e) { console.error('poll failed: ' + e.message); await sleep(200); }
  }
  console.log('ALL_LOCKED ' + locked.length);
})();
`;

/** Heartbeats and never polls: its agent's tasks stay pending. */
export const IDLE_JS = `${PROTOCOL_JS}
beat();
`;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process spawned by a test: its output, a wait for a line, its exit; killed by pid. */
export class AgentProcess {
  private static readonly live = new Set<AgentProcess>();
  readonly exited: Promise<Exit>;
  private out = '';
  private exit?: Exit;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    const append = (chunk: Buffer) => (this.out += chunk.toString());
    proc.stdout!.on('data', append);
    proc.stderr!.on('data', append);
    proc.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        AgentProcess.live.delete(this);
        resolve(this.exit);
      }),
    );
  }

  static spawn(name: string, command: string[], env: Record<string, string>, cwd = REPO_ROOT): AgentProcess {
    const [file, ...args] = command;
    const proc = spawn(file, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const p = new AgentProcess(name, proc);
    AgentProcess.live.add(p);
    return p;
  }

  /** An inline node agent (LOCKER_JS, IDLE_JS). */
  static node(name: string, script: string, env: Record<string, string>): AgentProcess {
    return AgentProcess.spawn(name, [process.execPath, '-e', script], env);
  }

  /** For `afterAll`: SIGKILL whatever this Jest worker spawned and is still running, each by its pid. */
  static async killLeftovers(): Promise<void> {
    await Promise.all([...AgentProcess.live].map((p) => p.kill('SIGKILL')));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  async untilOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return waitFor(
      () => {
        if (!this.running && !pattern.test(this.out)) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}): ${this.out.slice(-2000)}`);
        return this.out.match(pattern) ?? undefined;
      },
      { timeoutMs, intervalMs: 25, what: () => `${this.name} printing ${pattern} (output so far: ${this.out.slice(-2000)})` },
    );
  }

  /** Signals the process (if it still runs) and waits for its exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.running) this.proc.kill(signal);
    return this.exited;
  }
}

export interface ChildAgentProcess {
  pid: number;
  agentId?: string;
  instanceId?: string;
}

/**
 * This Jest worker's live child processes that carry an agent's environment (the local runtime
 * spawns them from this process): pid, SAGA_AGENT_ID, SAGA_INSTANCE_ID. Linux /proc.
 */
export function runtimeChildren(agentId?: string): ChildAgentProcess[] {
  const found: ChildAgentProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || state === 'Z') continue;
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      const get = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1);
      const child = { pid: Number(name), agentId: get('SAGA_AGENT_ID'), instanceId: get('SAGA_INSTANCE_ID') };
      if (!child.agentId) continue;
      if (agentId === undefined || child.agentId === agentId) found.push(child);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found.sort((a, b) => (a.instanceId ?? '').localeCompare(b.instanceId ?? ''));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// ---- HTTP helpers shared by the agent specs -------------------------------------------------------

export interface SagaView {
  sagaId: string;
  status: string;
  steps: { name: string; status: string; attempts: number; output?: unknown; error?: string; errorCode?: string; startedAt?: string; finishedAt?: string }[];
  [k: string]: unknown;
}

export interface StoredEvent {
  eventId: string;
  version: number;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: string;
}

export const TERMINAL = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'];

export async function sagaView(ctx: E2eContext, key: string, sagaId: string): Promise<SagaView> {
  const res = await ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(key));
  if (res.status !== 200) throw new Error(`GET /v1/sagas/${sagaId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Waits for the saga to reach one of `statuses` (default: any terminal one) and returns its view. */
export async function settledSaga(ctx: E2eContext, key: string, sagaId: string, timeoutMs = 30_000, statuses = TERMINAL): Promise<SagaView> {
  let last: SagaView | undefined;
  return waitFor(
    async () => {
      last = await sagaView(ctx, key, sagaId);
      return statuses.includes(last.status) && last;
    },
    { timeoutMs, intervalMs: 50, what: () => `saga ${sagaId} ${statuses.join('|')} (last: ${JSON.stringify(last?.status)} ${JSON.stringify(last?.steps?.map((s) => `${s.name}:${s.status}`))})` },
  );
}

/** Every event of a stream (operator key), forward. Empty when the stream has none (404). */
export async function streamEvents(ctx: E2eContext, key: string, streamId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let from = 0; ; ) {
    const res = await ctx.http().get(`/v1/streams/${streamId}/events?fromVersion=${from}&limit=1000`).set(bearer(key));
    if (res.status === 404) return events;
    if (res.status !== 200) throw new Error(`GET /v1/streams/${streamId}/events: ${res.status} ${JSON.stringify(res.body)}`);
    const page = res.body.events as StoredEvent[];
    events.push(...page.filter((e) => e.version >= from));
    if (page.length < 1000) return events;
    from = page[page.length - 1].version + 1;
  }
}

export async function sagaEvents(ctx: E2eContext, key: string, sagaId: string): Promise<StoredEvent[]> {
  const res = await ctx.http().get(`/v1/sagas/${sagaId}/events?limit=1000`).set(bearer(key));
  if (res.status !== 200) throw new Error(`GET /v1/sagas/${sagaId}/events: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.events;
}

/** Steps with more than one StepSucceeded in the saga's stream (none expected). */
export async function stepsSucceededTwice(ctx: E2eContext, key: string, sagaId: string): Promise<string[]> {
  const counts = new Map<string, number>();
  for (const e of await sagaEvents(ctx, key, sagaId)) {
    if (e.type !== 'StepSucceeded') continue;
    const step = String(e.data.step ?? e.data.name);
    counts.set(step, (counts.get(step) ?? 0) + 1);
  }
  return [...counts].filter(([, n]) => n > 1).map(([step, n]) => `${step} ×${n}`);
}

/** Provisions an agent (client key) and returns the saga id and the agent id (`steps[0].output.agentId`). */
export async function provisionAgent(ctx: E2eContext, t: TenantKeys, agent: Record<string, unknown>): Promise<{ sagaId: string; agentId: string }> {
  const res = await ctx.http().post('/v1/sagas/agent-provisioning').set(bearer(t.client)).send({ agent });
  if (res.status !== 202) throw new Error(`provisioning: ${res.status} ${JSON.stringify(res.body)}`);
  const sagaId: string = res.body.sagaId;
  const agentId = await waitFor(
    async () => {
      const view = await sagaView(ctx, t.client, sagaId);
      return (view.steps[0]?.output as { agentId?: string } | undefined)?.agentId;
    },
    { timeoutMs: 20_000, what: `agent id of provisioning ${sagaId}` },
  );
  return { sagaId, agentId };
}

export async function agentKey(ctx: E2eContext, operatorKey: string, agentId: string, name = 'e2e instance'): Promise<string> {
  const res = await ctx.http().post(`/v1/agents/${agentId}/keys`).set(bearer(operatorKey)).send({ name });
  if (res.status !== 201) throw new Error(`agent key: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.key;
}

export interface AgentDetail {
  agentId: string;
  status: string;
  permissions: string[];
  desiredInstances: number;
  scaling: Record<string, unknown>;
  instances: { instanceId: string; status: string; lastHeartbeatAt: string; load?: unknown }[];
}

export async function agentDetail(ctx: E2eContext, key: string, agentId: string): Promise<AgentDetail> {
  const res = await ctx.http().get(`/v1/agents/${agentId}`).set(bearer(key));
  if (res.status !== 200) throw new Error(`GET /v1/agents/${agentId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Starts a task-workflow of `n` `agent:<capability>` tasks (no dependencies) and returns its saga id. */
export async function startAgentWorkflow(
  ctx: E2eContext,
  clientKey: string,
  capability: string,
  n: number,
  config: (i: number) => Record<string, unknown> = (i) => ({ n: i }),
): Promise<string> {
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, handler: `agent:${capability}`, dependsOn: [], config: config(i) }));
  const res = await ctx.http().post('/v1/sagas/task-workflow').set(bearer(clientKey)).send({ name: `wf-${capability}`, maxParallel: Math.min(n, 64), tasks });
  if (res.status !== 202) throw new Error(`task-workflow: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.sagaId;
}

/** The environment of an agent process of ours. */
export const agentEnv = (apiUrl: string, key: string, instanceId: string, extra: Record<string, string> = {}): Record<string, string> => ({
  SAGA_API_URL: apiUrl,
  SAGA_AGENT_KEY: key,
  SAGA_INSTANCE_ID: instanceId,
  ...extra,
});
