import { InstanceProcess, InstanceState, RuntimeLog } from './instance-process';
import { DEFAULT_RESTART_BACKOFF, RestartBackoff } from './restart-backoff';
import { AgentTypeCommand, RuntimeConfig, commandFor } from './runtime-config';

/** What the worker wants running for one agent (its desiredInstances and per-instance resources). */
export interface LocalRuntimeTarget {
  agentId: string;
  tenantId: string;
  type: string;
  desired: number;
  resources: { cpuMillis: number; memoryMb: number };
}

export interface LocalAgentRuntimeOptions {
  config: RuntimeConfig;
  /** The API the instances talk to (SAGA_API_URL). */
  apiUrl: string;
  /** Mints an agent key for the agent; called once per agent (while it stays in the targets) and reused. */
  issueKey: (target: LocalRuntimeTarget) => Promise<string>;
  log?: RuntimeLog;
  /** Default { baseMs: 500, maxMs: 30000 }. */
  restartBackoff?: RestartBackoff;
  /** Between SIGTERM and SIGKILL; default 10 000. */
  stopGraceMs?: number;
  /** A child that ran this long before crashing starts its backoff over; default 60 000. */
  stableAfterMs?: number;
}

export interface LocalInstanceView {
  agentId: string;
  tenantId: string;
  type: string;
  instanceId: string;
  /** 1-based; the instance id is `<agentId first 8>-<slot>`. */
  slot: number;
  pid?: number;
  restarts: number;
  state: InstanceState;
}

/**
 * Variables of the worker's environment an instance inherits (what a process needs to run at all,
 * find certificates and go through a proxy). Nothing else: the worker's environment holds the
 * database password and the admin key, which are no business of an agent.
 */
export const INHERITED_ENV: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'TEMP', 'TMP',
  'SYSTEMROOT', 'WINDIR', 'COMSPEC', 'PATHEXT',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
];

interface LocalAgent {
  target: LocalRuntimeTarget;
  command: AgentTypeCommand;
  key?: string;
  slots: Map<number, InstanceProcess>;
}

export function instanceIdFor(agentId: string, slot: number): string {
  return `${agentId.slice(0, 8)}-${slot}`;
}

/**
 * The `local` agent runtime (DESIGN.md "Agents", Runtime): runs `desired` child processes per agent
 * from the command the deployment maps to the agent's type, each with the API URL, a key and its
 * instance id, and restarts a crashed one with backoff. Agents whose type has no command are left
 * to the `external` runtime.
 */
export class LocalAgentRuntime {
  private readonly agents = new Map<string, LocalAgent>();
  private readonly log: RuntimeLog;
  /** Agents left to the external runtime (logged once, when they first show up). */
  private external = new Set<string>();
  /** Reconciles and stopAll run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LocalAgentRuntimeOptions) {
    this.log = options.log ?? ((line, level) => (level === 'info' ? process.stdout : process.stderr).write(`${line}\n`));
  }

  /**
   * Makes each agent of `targets` run exactly `desired` instances (slots 1..desired) and stops every
   * instance of an agent that is not there. Resolves once the needed children are spawned and the
   * surplus ones have exited. An agent whose key cannot be issued is logged and retried next time.
   */
  reconcile(targets: readonly LocalRuntimeTarget[]): Promise<void> {
    return this.serialized(() => this.apply(targets));
  }

  /** Stops every instance (SIGTERM, SIGKILL after stopGraceMs) and forgets the keys. */
  stopAll(): Promise<void> {
    return this.serialized(() => this.apply([]));
  }

  instances(): LocalInstanceView[] {
    const views: LocalInstanceView[] = [];
    for (const { target, slots } of this.agents.values()) {
      for (const [slot, p] of [...slots].sort(([a], [b]) => a - b)) {
        views.push({
          agentId: target.agentId,
          tenantId: target.tenantId,
          type: target.type,
          instanceId: p.instanceId,
          slot,
          pid: p.pid,
          restarts: p.restarts,
          state: p.state,
        });
      }
    }
    return views;
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(targets: readonly LocalRuntimeTarget[]): Promise<void> {
    const wanted = new Map<string, { target: LocalRuntimeTarget; command: AgentTypeCommand }>();
    const external = new Set<string>();
    for (const target of targets) {
      const command = commandFor(this.options.config, target.type);
      if (command) {
        wanted.set(target.agentId, { target, command });
        continue;
      }
      external.add(target.agentId);
      if (!this.external.has(target.agentId)) {
        this.log(`agent ${target.agentId}: no local command for type "${target.type}"; left to the external runtime`, 'info');
      }
    }
    this.external = external;

    const work: Promise<void>[] = [];
    for (const [agentId, agent] of this.agents) {
      if (wanted.has(agentId)) continue;
      this.agents.delete(agentId);
      work.push(...[...agent.slots.values()].map((p) => p.stop()));
    }
    for (const { target, command } of wanted.values()) {
      let agent = this.agents.get(target.agentId);
      if (!agent) {
        agent = { target, command, slots: new Map() };
        this.agents.set(target.agentId, agent);
      }
      agent.target = target;
      work.push(this.scale(agent, desiredOf(target)));
    }
    await Promise.all(work);
  }

  private async scale(agent: LocalAgent, desired: number): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [slot, p] of agent.slots) {
      if (slot <= desired) continue;
      agent.slots.delete(slot);
      stops.push(p.stop());
    }
    const missing: number[] = [];
    for (let slot = 1; slot <= desired; slot++) if (!agent.slots.has(slot)) missing.push(slot);
    if (missing.length === 0) {
      await Promise.all(stops);
      return;
    }

    const key = await this.keyOf(agent);
    const starts = key === undefined ? [] : missing.map((slot) => this.startSlot(agent, slot, key));
    await Promise.all([...stops, ...starts]);
  }

  private async keyOf(agent: LocalAgent): Promise<string | undefined> {
    if (agent.key === undefined) {
      try {
        agent.key = await this.options.issueKey(agent.target);
      } catch (err) {
        this.log(`agent ${agent.target.agentId}: cannot issue a key, instances not started: ${(err as Error).message}`, 'error');
        return undefined;
      }
    }
    return agent.key;
  }

  private startSlot(agent: LocalAgent, slot: number, key: string): Promise<void> {
    const { target, command } = agent;
    const instanceId = instanceIdFor(target.agentId, slot);
    const p = new InstanceProcess(instanceId, command, this.childEnv(target, command, instanceId, key), {
      restartBackoff: this.options.restartBackoff ?? DEFAULT_RESTART_BACKOFF,
      stopGraceMs: this.options.stopGraceMs ?? 10_000,
      stableAfterMs: this.options.stableAfterMs ?? 60_000,
      log: this.log,
    });
    agent.slots.set(slot, p);
    return p.start();
  }

  private childEnv(target: LocalRuntimeTarget, command: AgentTypeCommand, instanceId: string, key: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const name of INHERITED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
    Object.assign(env, command.env);
    const memoryMb = target.resources.memoryMb;
    if (Number.isSafeInteger(memoryMb) && memoryMb > 0) {
      // The instance's memory limit, as Node understands it (its heap); other runtimes may read SAGA_MEMORY_MB.
      env.NODE_OPTIONS = [env.NODE_OPTIONS, `--max-old-space-size=${memoryMb}`].filter(Boolean).join(' ');
      env.SAGA_MEMORY_MB = String(memoryMb);
    }
    env.SAGA_API_URL = this.options.apiUrl;
    env.SAGA_AGENT_KEY = key;
    env.SAGA_AGENT_ID = target.agentId;
    env.SAGA_INSTANCE_ID = instanceId;
    return env;
  }
}

function desiredOf(target: LocalRuntimeTarget): number {
  return Number.isFinite(target.desired) ? Math.max(0, Math.floor(target.desired)) : 0;
}
