import { createHash, randomBytes, randomUUID } from 'crypto';
import { Pool } from 'pg';
import { SessionLeadership } from '@app/database';
import { WakeableSleep, failureBackoffMs } from '@app/event-store';
import type { DomainCommandDispatcher, ExternalOutcome } from '@app/sagas';
import type { ServiceStatus } from '../agent-work.port';
import { agentServiceStatus, instanceStatus, OFFLINE_AFTER_INTERVALS, UNHEALTHY_AFTER_INTERVALS } from '../health/instance-health';
import { allInstances, AgentInstanceRow, forgetOfflineInstances, setInstanceStatus } from '../queue/postgres/agent-instances';
import {
  AgentTaskRow,
  expiredTasks,
  expireLocks,
  findTask,
  pendingFor,
  purgeFinished,
  releaseInstanceLocks,
  timedOutTasks,
} from '../queue/postgres/agent-tasks';
import { LocalAgentRuntime, LocalRuntimeTarget } from '../runtime/local-runtime';
import { DEFAULT_SCALING, decideScale, ScalingPolicy } from '../scaling/scaling-policy';
import { ServiceRegistry } from '../work/service-registry';

/** Expiries of one task's locks after which its step fails with LOCK_EXPIRED. */
export const MAX_LOCK_EXPIRIES = 3;

// Advisory-lock key of the monitor's leadership (one monitor acts at a time among workers).
const MONITOR_LOCK_KEY = 7_311_204;

export interface AgentMonitorOptions {
  heartbeatIntervalMs: number;
  /** How often the monitor looks (default: a quarter interval, at most 1 s). */
  tickMs?: number;
  /** How often scaling is decided (default 2 s). */
  scaleEveryMs?: number;
  /** Tasks returned to a queue: wake that tenant's long polls. */
  wake: (tenantId: string) => void;
  /** The local runtime (absent: every agent is `external`). */
  runtime?: LocalAgentRuntime;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Desired instances per agent after each scaling pass (metrics). */
  onScaled?: (agents: { agentId: string; tenantId: string; desired: number }[]) => void;
  /** A change of an agent's desired instances (metrics). */
  onScaleChange?: (from: number, to: number) => void;
}

export interface OutcomeReporter {
  reportExternalOutcome(outcome: ExternalOutcome): Promise<'recorded' | 'stale'>;
}

interface AgentRow {
  agent_id: string;
  tenant_id: string;
  name: string;
  type: string;
  status: string;
  capabilities: string[];
  resources: { cpuMillis: number; memoryMb: number };
  scaling: ScalingPolicy | null;
  desired_instances: number | null;
  decommissioning_saga_id: string | null;
}

/**
 * The agent monitor: one leader among the workers (a session advisory lock on a connection of its
 * own) that turns instance silence into UNHEALTHY then OFFLINE (service events), gives an offline
 * instance's locks back to the queue at once, expires locks and TTLs, times attempts out, decides
 * each agent's desired instances with its scaling policy (AgentScaled events), and drives the
 * local runtime to that target.
 */
export class AgentMonitor {
  private stopped = true;
  private loop?: Promise<void>;
  private readonly leadership: SessionLeadership;
  private readonly pause = new WakeableSleep();
  private readonly registry: ServiceRegistry;
  private lastScale = 0;
  private lastPurge = 0;

  constructor(
    private readonly pool: Pool,
    private readonly reporter: OutcomeReporter,
    private readonly commands: DomainCommandDispatcher,
    private readonly options: AgentMonitorOptions,
  ) {
    this.registry = new ServiceRegistry(commands, pool);
    this.leadership = new SessionLeadership(pool, MONITOR_LOCK_KEY, (m) => options.log?.(m), 'agent monitor leadership');
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pause.reset();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pause.cancel();
    await this.loop;
    await this.options.runtime?.stopAll().catch(() => undefined);
    await this.leadership.close();
  }

  private get tickMs(): number {
    return this.options.tickMs ?? Math.max(100, Math.min(1000, Math.floor(this.options.heartbeatIntervalMs / 4)));
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (await this.leadership.lead()) await this.tick();
        failures = 0;
        await this.pause.sleep(this.tickMs);
      } catch (err) {
        failures++;
        this.options.log?.('agent monitor tick failed', { error: (err as Error).message });
        await this.pause.sleep(failureBackoffMs(failures), { wakeable: false });
      }
    }
  }

  /** One look at every instance, lock, TTL and policy. */
  async tick(): Promise<void> {
    await this.health();
    await this.sweepQueue();
    const now = Date.now();
    if (now - this.lastScale >= (this.options.scaleEveryMs ?? 2000)) {
      this.lastScale = now;
      await this.scale();
    }
    if (now - this.lastPurge >= 60_000) {
      this.lastPurge = now;
      await purgeFinished(this.pool, 3_600_000);
      await forgetOfflineInstances(this.pool, 3_600_000);
    }
  }

  /** Instance silence → status; each agent's service follows its best instance. */
  private async health(): Promise<void> {
    const interval = this.options.heartbeatIntervalMs;
    const now = new Date();
    const instances = await allInstances(this.pool);
    const byAgent = new Map<string, AgentInstanceRow[]>();
    for (const row of instances) {
      byAgent.set(row.agent_id, [...(byAgent.get(row.agent_id) ?? []), row]);
      const status = instanceStatus({ reportedStatus: row.reported_status, lastHeartbeatAt: row.last_heartbeat_at }, now, interval);
      if (status === row.status) continue;
      // Only silence moves an instance down here; a heartbeat moves it back up (AgentWorkService).
      if (rank(status) < rank(row.status)) continue;
      await setInstanceStatus(this.pool, row.agent_id, row.instance_id, status);
      row.status = status;
      this.options.log?.('agent instance status changed', { agentId: row.agent_id, instanceId: row.instance_id, status });
      if (status === 'OFFLINE') {
        const released = await releaseInstanceLocks(this.pool, row.agent_id, row.instance_id);
        if (released.length) {
          this.options.log?.('offline instance: its locked tasks went back to the queue', { agentId: row.agent_id, instanceId: row.instance_id, tasks: released.length });
          this.options.wake(row.tenant_id);
        }
      }
    }
    const services = await this.pool.query<{ agent_id: string; tenant_id: string; status: ServiceStatus; registered_at: Date }>(
      `select agent_id, tenant_id, status, registered_at from services where deregistered_at is null`,
    );
    for (const s of services.rows) {
      const rows = byAgent.get(s.agent_id) ?? [];
      const status = agentServiceStatus(
        { registeredAt: s.registered_at, instances: rows.map((r) => ({ reportedStatus: r.reported_status, lastHeartbeatAt: r.last_heartbeat_at })) },
        now,
        interval,
      );
      if (status === s.status) continue;
      const reason = rows.length
        ? status === 'UNHEALTHY' || status === 'OFFLINE'
          ? `no heartbeat from any instance for ${status === 'OFFLINE' ? OFFLINE_AFTER_INTERVALS : UNHEALTHY_AFTER_INTERVALS} intervals (${interval} ms)`
          : `best instance is ${status}`
        : `no instance has sent a heartbeat since the service was registered`;
      const current = await this.registry.current(s.agent_id);
      if (!current || current.status === status) continue;
      await this.registry.change({ tenantId: s.tenant_id, agentId: s.agent_id }, current.status, status, reason);
      this.options.log?.('agent service status changed', { agentId: s.agent_id, from: current.status, to: status, reason });
    }
  }

  /** Expired locks back to the queue (or LOCK_EXPIRED), TTLs → EXPIRED, attempts past their timeout → TIMEOUT. */
  private async sweepQueue(): Promise<void> {
    const { requeued, exhausted } = await expireLocks(this.pool, MAX_LOCK_EXPIRIES);
    for (const tenant of new Set(requeued.map((r) => r.tenant_id))) this.options.wake(tenant);
    for (const row of exhausted) {
      await this.fail(row, `the task's lock expired ${MAX_LOCK_EXPIRIES} times without a completion`, 'LOCK_EXPIRED', true, (r) =>
        r.state === 'LOCKED' && r.lock_token === row.lock_token && r.locked_until !== null && r.locked_until.getTime() < Date.now(),
      );
    }
    for (const row of await expiredTasks(this.pool)) {
      await this.fail(row, 'no agent instance took the task before its TTL', 'EXPIRED', false, (r) => r.state === 'QUEUED' && r.attempt === row.attempt);
    }
    for (const row of await timedOutTasks(this.pool)) {
      await this.fail(row, `timeout after ${row.attempt_timeout_ms} ms`, 'TIMEOUT', true, (r) =>
        (r.state === 'QUEUED' || r.state === 'LOCKED') && r.attempt === row.attempt,
      );
    }
  }

  /** Fails a queued attempt on its saga, if the row is still as seen (checked under the saga's lock). */
  private async fail(row: AgentTaskRow, error: string, code: string, retryable: boolean, stillAsSeen: (r: AgentTaskRow) => boolean): Promise<void> {
    try {
      await this.reporter.reportExternalOutcome({
        sagaId: row.saga_id,
        tenantId: row.tenant_id,
        step: row.step,
        attempt: row.attempt,
        result: { error, code, retryable },
        actor: 'agent-monitor',
        guard: async (tx) => {
          const current = await findTask(tx, row.tenant_id, row.task_id, true);
          if (!current || !stillAsSeen(current)) throw new ChangedMeanwhile();
        },
      });
    } catch (err) {
      if (err instanceof ChangedMeanwhile) return;
      this.options.log?.('failing an agent task failed', { taskId: row.task_id, code, error: (err as Error).message });
    }
  }

  /** Each live agent's desired instances from its policy; the local runtime follows. */
  private async scale(): Promise<void> {
    const { rows: agents } = await this.pool.query<AgentRow>(
      `select agent_id, tenant_id, name, type, status, capabilities, resources, scaling, desired_instances, decommissioning_saga_id
         from agents where status in ('PROVISIONING', 'ACTIVE')`,
    );
    const instances = await allInstances(this.pool);
    const now = new Date();
    const targets: LocalRuntimeTarget[] = [];
    const scaled: { agentId: string; tenantId: string; desired: number }[] = [];
    for (const a of agents) {
      if (a.decommissioning_saga_id) continue;
      const policy = a.scaling ?? DEFAULT_SCALING;
      let desired = a.desired_instances ?? policy.min;
      if (a.status === 'ACTIVE' && policy.strategy !== 'FIXED') {
        const live = instances.filter((i) => i.agent_id === a.agent_id && rank(instanceStatus({ reportedStatus: i.reported_status, lastHeartbeatAt: i.last_heartbeat_at }, now, this.options.heartbeatIntervalMs)) <= 1);
        const decision = decideScale(policy, {
          currentInstances: Math.max(live.length, 0),
          pendingTasks: await pendingFor(this.pool, a.tenant_id, a.agent_id, a.capabilities ?? []),
          cpuPercents: live.map((i) => i.load?.cpuPercent).filter((c): c is number => typeof c === 'number'),
          quotaInstances: await this.quotaInstances(a, desired),
        });
        if (decision.desired !== desired) {
          const scaled = await this.rescale(a, policy, desired, decision);
          this.options.log?.('agent scaled', { agentId: a.agent_id, from: desired, to: scaled, reason: decision.reason });
          this.options.onScaleChange?.(desired, scaled);
          desired = scaled;
        }
      }
      scaled.push({ agentId: a.agent_id, tenantId: a.tenant_id, desired });
      targets.push({ agentId: a.agent_id, tenantId: a.tenant_id, type: a.type, desired, resources: a.resources });
    }
    this.options.onScaled?.(scaled);
    if (this.options.runtime) await this.options.runtime.reconcile(targets);
  }

  /**
   * Moves the agent to a new target: the instances beyond the provisioned ones (`min`, at least one)
   * hold a reservation of the tenant quota — released and taken anew at each change, so the quota
   * always shows what runs. When the quota no longer holds the target (another agent took it
   * meanwhile), the target is lowered to what it holds, and the AgentScaled event says so.
   */
  private async rescale(a: AgentRow, policy: ScalingPolicy, from: number, decision: { desired: number; reason: string; cappedByQuota?: boolean; uncapped?: number }): Promise<number> {
    const base = Math.max(1, policy.min);
    const per = { cpuMillis: a.resources?.cpuMillis ?? 0, memoryMb: a.resources?.memoryMb ?? 0 };
    const { state } = await this.commands.load('agent', a.agent_id);
    const previous: string | undefined = state?.scaleReservationId;
    const quota = (command: { type: string; data: unknown }, commandId: string) =>
      this.commands.dispatch({ aggregate: 'quota', id: a.tenant_id, tenantId: a.tenant_id, commandId, command, metadata: { actor: 'agent-monitor' } });
    if (previous) await quota({ type: 'ReleaseResources', data: { reservationId: previous } }, `release:${previous}`);
    let target = decision.desired;
    let reservationId: string | null = null;
    let capped = decision.cappedByQuota === true;
    while (target > base && (per.cpuMillis > 0 || per.memoryMb > 0)) {
      const extra = target - base;
      const id = `agent-scale:${a.agent_id}:${randomUUID()}`;
      try {
        await quota({ type: 'ReserveResources', data: { reservationId: id, cpuMillis: per.cpuMillis * extra, memoryMb: per.memoryMb * extra } }, `reserve:${id}`);
        reservationId = id;
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'QUOTA_EXCEEDED') throw err;
        target--;
        capped = true;
      }
    }
    const reason = capped && target < decision.desired ? `${decision.reason}; capped at ${target} by the tenant quota` : decision.reason;
    await this.commands.dispatch({
      aggregate: 'agent',
      id: a.agent_id,
      tenantId: a.tenant_id,
      commandId: `scale:${a.agent_id}:${from}->${target}:${randomUUID()}`,
      command: {
        type: 'ScaleAgent',
        data: {
          desired: target,
          reason,
          ...(capped ? { cappedByQuota: true, uncapped: decision.uncapped ?? decision.desired } : {}),
          ...(previous || reservationId ? { reservationId } : {}),
        },
      },
      metadata: { actor: 'agent-monitor' },
    });
    return target;
  }

  /**
   * How many instances the tenant's quota can hold for this agent: those already reserved (the
   * provisioning reserved `min`'s worth) plus what is still free. Undefined: no quota recorded.
   */
  private async quotaInstances(a: AgentRow, current: number): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ cpu_millis_limit: string; memory_mb_limit: string; cpu_millis_used: string; memory_mb_used: string }>(
      'select cpu_millis_limit, memory_mb_limit, cpu_millis_used, memory_mb_used from tenant_quotas where tenant_id = $1',
      [a.tenant_id],
    );
    const q = rows[0];
    const cpu = a.resources?.cpuMillis ?? 0;
    const mem = a.resources?.memoryMb ?? 0;
    if (!q || (cpu <= 0 && mem <= 0)) return undefined;
    const freeCpu = Number(q.cpu_millis_limit) - Number(q.cpu_millis_used);
    const freeMem = Number(q.memory_mb_limit) - Number(q.memory_mb_used);
    const extra = Math.min(cpu > 0 ? Math.floor(freeCpu / cpu) : Infinity, mem > 0 ? Math.floor(freeMem / mem) : Infinity);
    const reserved = Math.max(1, (a.scaling ?? DEFAULT_SCALING).min);
    return Math.max(0, Math.max(reserved, current) + Math.max(0, extra));
  }
}

class ChangedMeanwhile extends Error {}

const ORDER: ServiceStatus[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE'];
const rank = (s: ServiceStatus) => ORDER.indexOf(s);

/** Mints an agent key for the local runtime (one per agent and name: a new one revokes the old). */
export async function issueRuntimeKey(pool: Pool, target: { tenantId: string; agentId: string }, name = 'local-runtime'): Promise<string> {
  const key = `sk_${randomBytes(32).toString('base64url')}`;
  const hash = createHash('sha256').update(key).digest('hex');
  await pool.query(
    `with revoked as (update api_keys set revoked_at = now() where agent_id = $2 and name = $3 and revoked_at is null)
     insert into api_keys (id, tenant_id, role, name, key_hash, agent_id) values ($1, $4, 'agent', $3, $5, $2)`,
    [randomUUID(), target.agentId, name, target.tenantId, hash],
  );
  return key;
}
