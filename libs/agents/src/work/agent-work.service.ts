import { randomUUID } from 'crypto';
import { Pool, PoolClient } from 'pg';
import type { DomainCommandDispatcher, ExternalOutcome } from '@app/sagas';
import {
  AgentInstanceView,
  AgentPrincipal,
  AgentWork,
  AgentWorkError,
  CompleteRequest,
  ExtendRequest,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  PollRequest,
  PolledTask,
  ProgressRequest,
  QueueView,
  SERVICE_STATUS_ORDER,
  SagaStepQueueView,
  ServiceStatus,
} from '../agent-work.port';
import { agentServiceStatus, instanceStatus } from '../health/instance-health';
import { findInstance, instancesOf, recordHeartbeat } from '../queue/postgres/agent-instances';
import {
  AgentTaskRow,
  extendLock,
  findTask,
  finishLockedTask,
  lockTasks,
  queueDepths,
  recordProgress,
  sagaTasks,
} from '../queue/postgres/agent-tasks';
import { TaskWaiters } from '../queue/task-waiters';
import { ServiceRegistry } from './service-registry';

const PRIORITY_NAMES = ['LOW', 'NORMAL', 'HIGH', 'CRITICAL'];

export interface AgentWorkOptions {
  heartbeatIntervalMs: number;
  /** How long an agent's state (capabilities, decommissioning) is reused between polls. */
  agentCacheMs?: number;
  /** After each lock: how long the tasks waited in the queue (metrics). */
  onLocked?: (tasks: AgentTaskRow[]) => void;
}

/** Records an agent task's outcome on its saga (SagaExecutor.reportExternalOutcome). */
export interface OutcomeReporter {
  reportExternalOutcome(outcome: ExternalOutcome): Promise<'recorded' | 'stale'>;
}

interface AgentInfo {
  status: string;
  tenantId: string;
  capabilities: string[];
  decommissioningSagaId?: string;
  at: number;
}

/**
 * The agent work protocol (API.md "Agents: the work protocol"): heartbeats, long polls that lock
 * tasks with a fresh token, and completions fenced by that token and recorded on the saga in one
 * transaction with the row leaving the queue.
 */
export class AgentWorkService implements AgentWork {
  private readonly agents = new Map<string, AgentInfo>();
  private readonly registry: ServiceRegistry;

  constructor(
    private readonly pool: Pool,
    private readonly reporter: OutcomeReporter,
    private readonly commands: DomainCommandDispatcher,
    private readonly waiters: TaskWaiters,
    private readonly options: AgentWorkOptions,
  ) {
    this.registry = new ServiceRegistry(commands, pool);
  }

  get heartbeatIntervalMs(): number {
    return this.options.heartbeatIntervalMs;
  }

  async heartbeat(agent: AgentPrincipal, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    const info = await this.agent(agent, { fresh: true });
    if (info.decommissioningSagaId || info.status === 'DECOMMISSIONED') {
      throw new AgentWorkError('AGENT_DECOMMISSIONING', `agent ${agent.agentId} is being decommissioned`);
    }
    await recordHeartbeat(this.pool, { ...agent, instanceId: req.instanceId, status: req.status ?? 'HEALTHY', load: req.load });
    const serviceStatus = await this.updateServiceStatus(agent, `heartbeat of instance ${req.instanceId}`);
    return { agentId: agent.agentId, instanceId: req.instanceId, serviceStatus, heartbeatIntervalMs: this.options.heartbeatIntervalMs };
  }

  /**
   * The agent's service follows its instances: their best status now. Returns it (the service's
   * current one when it is not registered yet or any more).
   */
  async updateServiceStatus(agent: { tenantId: string; agentId: string }, reason: string): Promise<ServiceStatus> {
    const rows = await instancesOf(this.pool, agent.tenantId, agent.agentId);
    const service = await this.registry.current(agent.agentId);
    if (!service) return rowsStatus(rows, this.options.heartbeatIntervalMs);
    const now = new Date();
    const status = agentServiceStatus(
      { registeredAt: service.registeredAt ?? now, instances: rows.map((r) => ({ reportedStatus: r.reported_status, lastHeartbeatAt: r.last_heartbeat_at })) },
      now,
      this.options.heartbeatIntervalMs,
    );
    if (status !== service.status) await this.registry.change(agent, service.status, status, reason);
    return status;
  }

  async poll(agent: AgentPrincipal, req: PollRequest, signal?: AbortSignal): Promise<PolledTask[]> {
    // Read fresh (one short stream): an agent whose decommissioning began takes no new work at once.
    const info = await this.agent(agent, { fresh: true });
    if (info.decommissioningSagaId || info.status === 'DECOMMISSIONED') {
      throw new AgentWorkError('AGENT_DECOMMISSIONING', `agent ${agent.agentId} is being decommissioned: it takes no new work`);
    }
    const instance = await findInstance(this.pool, agent.agentId, req.instanceId);
    if (!instance) {
      // An instance's first call may be a poll: it counts as its first heartbeat.
      await recordHeartbeat(this.pool, { ...agent, instanceId: req.instanceId, status: 'HEALTHY' });
    } else if (instance.status === 'OFFLINE') {
      throw new AgentWorkError('INSTANCE_OFFLINE', `instance ${req.instanceId} is OFFLINE: send a heartbeat first`, { instanceId: req.instanceId });
    }
    const deadline = Date.now() + (req.waitMs ?? 0);
    for (;;) {
      const rows = await lockTasks(this.pool, {
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        capabilities: info.capabilities,
        instanceId: req.instanceId,
        max: req.maxTasks ?? 1,
        lockMs: req.lockMs ?? 60_000,
      });
      if (rows.length) {
        this.options.onLocked?.(rows);
        return rows.map(toPolledTask);
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted || this.waiters.closed) return [];
      await this.waiters.wait(agent.tenantId, left, signal);
    }
  }

  complete(agent: AgentPrincipal, taskId: string, req: CompleteRequest): Promise<void> {
    return this.finish(agent, taskId, req.lockToken, 'DONE', { output: req.output ?? null });
  }

  fail(agent: AgentPrincipal, taskId: string, req: FailRequest): Promise<void> {
    const error = req.error.code ? `${req.error.code}: ${req.error.message}` : req.error.message;
    return this.finish(agent, taskId, req.lockToken, 'FAILED', { error, retryable: req.retryable !== false });
  }

  async extend(agent: AgentPrincipal, taskId: string, req: ExtendRequest): Promise<{ lockedUntil: string }> {
    const until = await extendLock(this.pool, agent.tenantId, taskId, req.lockToken, req.lockMs);
    if (!until) throw refusal(await findTask(this.pool, agent.tenantId, taskId), req.lockToken, taskId);
    return { lockedUntil: until.toISOString() };
  }

  async progress(agent: AgentPrincipal, taskId: string, req: ProgressRequest): Promise<void> {
    const ok = await recordProgress(this.pool, agent.tenantId, taskId, req.lockToken, { percent: req.percent, ...(req.message ? { message: req.message } : {}) });
    if (!ok) throw refusal(await findTask(this.pool, agent.tenantId, taskId), req.lockToken, taskId);
  }

  async queues(tenantId: string): Promise<QueueView[]> {
    const depths = await queueDepths(this.pool, tenantId);
    const services = await this.pool.query<{ status: ServiceStatus; capabilities: string[] }>(
      `select status, capabilities from services where tenant_id = $1 and deregistered_at is null`,
      [tenantId],
    );
    const views = new Map<string, QueueView>();
    const view = (capability: string): QueueView => {
      let v = views.get(capability);
      if (!v) {
        v = { capability, pending: 0, locked: 0, delayed: 0, oldestPendingAgeMs: 0, agents: { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, OFFLINE: 0 } };
        views.set(capability, v);
      }
      return v;
    };
    const now = Date.now();
    for (const d of depths) {
      const v = view(d.capability);
      v.pending = d.pending;
      v.locked = d.locked;
      v.delayed = d.delayed;
      v.oldestPendingAgeMs = d.oldest_pending_at ? Math.max(0, now - d.oldest_pending_at.getTime()) : 0;
    }
    for (const s of services.rows) for (const c of s.capabilities ?? []) view(c).agents[s.status] = (view(c).agents[s.status] ?? 0) + 1;
    return [...views.values()].sort((a, b) => a.capability.localeCompare(b.capability));
  }

  async instances(tenantId: string, agentId: string): Promise<AgentInstanceView[]> {
    const rows = await instancesOf(this.pool, tenantId, agentId);
    const now = new Date();
    return rows.map((r) => ({
      instanceId: r.instance_id,
      status: instanceStatus({ reportedStatus: r.reported_status, lastHeartbeatAt: r.last_heartbeat_at }, now, this.options.heartbeatIntervalMs),
      lastHeartbeatAt: r.last_heartbeat_at.toISOString(),
      ...(r.load ? { load: r.load } : {}),
    }));
  }

  async sagaSteps(tenantId: string, sagaId: string): Promise<Record<string, SagaStepQueueView>> {
    const rows = await sagaTasks(this.pool, tenantId, sagaId);
    const out: Record<string, SagaStepQueueView> = {};
    for (const r of rows) {
      if (r.state !== 'QUEUED' && r.state !== 'LOCKED') continue;
      const agentId = r.locked_agent_id ?? r.agent_id ?? undefined;
      const progress = r.progress as { percent: number; message?: string } | null;
      out[r.step] = {
        queue: {
          capability: r.capability ?? 'initial',
          ...(agentId ? { agentId } : {}),
          ...(r.state === 'LOCKED' && r.locked_until ? { lockedUntil: r.locked_until.toISOString() } : {}),
        },
        ...(progress ? { progress: { percent: progress.percent, ...(progress.message ? { message: progress.message } : {}) } } : {}),
      };
    }
    return out;
  }

  /** Forget what is cached of an agent (its decommissioning began). */
  forget(agentId: string): void {
    this.agents.delete(agentId);
  }

  /**
   * Records a locked task's outcome: fenced by the lock token in the same transaction as the
   * saga's decision, so a stale instance can never complete a task another one holds.
   */
  private async finish(
    agent: AgentPrincipal,
    taskId: string,
    lockToken: string,
    state: 'DONE' | 'FAILED',
    result: ExternalOutcome['result'],
  ): Promise<void> {
    const row = await findTask(this.pool, agent.tenantId, taskId);
    if (!row) throw new AgentWorkError('NOT_FOUND', `task ${taskId} not found`);
    if (row.state === state && row.lock_token === lockToken) return; // the same report again
    if (row.state !== 'LOCKED' || row.lock_token !== lockToken) throw refusal(row, lockToken, taskId);
    const guard = async (tx: PoolClient) => {
      const current = await findTask(tx, agent.tenantId, taskId, true);
      if (!current || current.state !== 'LOCKED' || current.lock_token !== lockToken) throw refusal(current, lockToken, taskId);
      await finishLockedTask(tx, taskId, lockToken, state);
    };
    const outcome = await this.reporter.reportExternalOutcome({
      sagaId: row.saga_id,
      tenantId: row.tenant_id,
      step: row.step,
      attempt: row.attempt,
      result,
      guard,
      actor: `agent:${agent.agentId}/${row.locked_by ?? 'instance'}`,
    });
    if (outcome === 'stale') {
      throw new AgentWorkError('TASK_CANCELLED', `task ${taskId}: its saga no longer waits for it (cancelled or compensating)`, { taskId });
    }
  }

  /** The agent's state from its stream (cached briefly: polls are frequent). */
  private async agent(principal: AgentPrincipal, opts: { fresh?: boolean } = {}): Promise<AgentInfo> {
    const cached = this.agents.get(principal.agentId);
    if (cached && !opts.fresh && Date.now() - cached.at < (this.options.agentCacheMs ?? 500)) return cached;
    const { state } = await this.commands.load('agent', principal.agentId);
    if (!state || state.status === 'NONE' || state.tenantId !== principal.tenantId) {
      throw new AgentWorkError('AGENT_NOT_ACTIVE', `agent ${principal.agentId} is not registered`);
    }
    const info: AgentInfo = {
      status: state.status,
      tenantId: state.tenantId,
      capabilities: state.capabilities ?? [],
      decommissioningSagaId: state.decommissioningSagaId,
      at: Date.now(),
    };
    this.agents.set(principal.agentId, info);
    return info;
  }
}

/** Why a call with `lockToken` on `row` is refused. */
function refusal(row: AgentTaskRow | undefined, lockToken: string, taskId: string): AgentWorkError {
  if (!row) return new AgentWorkError('NOT_FOUND', `task ${taskId} not found`);
  if (row.state === 'CANCELLED') return new AgentWorkError('TASK_CANCELLED', `task ${taskId} was cancelled: its saga is no longer running`, { taskId });
  if (row.lock_token !== lockToken) {
    return new AgentWorkError('LOCK_LOST', `task ${taskId}: this lock token is no longer the task's (the lock expired and the task went back to the queue)`, { taskId });
  }
  return new AgentWorkError('LOCK_LOST', `task ${taskId} is ${row.state}: the lock is no longer held`, { taskId, state: row.state });
}

function toPolledTask(r: AgentTaskRow): PolledTask {
  return {
    taskId: r.task_id,
    lockToken: r.lock_token!,
    lockedUntil: r.locked_until!.toISOString(),
    sagaId: r.saga_id,
    capability: r.capability ?? 'initial',
    priority: PRIORITY_NAMES[r.priority] ?? 'NORMAL',
    attempt: r.attempt,
    input: r.input,
    ...(r.traceparent ? { traceparent: r.traceparent } : {}),
  };
}

function rowsStatus(rows: { reported_status: 'HEALTHY' | 'DEGRADED'; last_heartbeat_at: Date }[], intervalMs: number): ServiceStatus {
  const now = new Date();
  const statuses = rows.map((r) => instanceStatus({ reportedStatus: r.reported_status, lastHeartbeatAt: r.last_heartbeat_at }, now, intervalMs));
  let best = SERVICE_STATUS_ORDER.length - 1;
  for (const s of statuses) best = Math.min(best, SERVICE_STATUS_ORDER.indexOf(s));
  return SERVICE_STATUS_ORDER[best];
}

export const newCommandId = () => randomUUID();
