/**
 * The agent work protocol (API.md "Agents: the work protocol"), as the API calls it. The agent
 * is always the key's: routes pass the principal's tenant and agent, never one from the body.
 */

export type InstanceReportedStatus = 'HEALTHY' | 'DEGRADED';
export type ServiceStatus = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY' | 'OFFLINE';
export const SERVICE_STATUS_ORDER: readonly ServiceStatus[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE'];

export interface AgentPrincipal {
  tenantId: string;
  agentId: string;
  keyId: string;
}

export interface InstanceLoad {
  cpuPercent?: number;
  memoryMb?: number;
  inFlight?: number;
}

export interface HeartbeatRequest {
  instanceId: string;
  status?: InstanceReportedStatus;
  load?: InstanceLoad;
}

export interface HeartbeatResponse {
  agentId: string;
  instanceId: string;
  serviceStatus: ServiceStatus;
  heartbeatIntervalMs: number;
}

export interface PollRequest {
  instanceId: string;
  /** 1..100, default 1. */
  maxTasks?: number;
  /** 0..30000, default 0. */
  waitMs?: number;
  /** 1000..600000, default 60000. */
  lockMs?: number;
}

export interface PolledTask {
  taskId: string;
  lockToken: string;
  lockedUntil: string;
  sagaId: string;
  /** The capability the task was queued for (for an initial task: `initial`). */
  capability: string;
  /** LOW | NORMAL | HIGH | CRITICAL */
  priority: string;
  attempt: number;
  input: unknown;
  traceparent?: string;
}

export interface CompleteRequest {
  lockToken: string;
  output?: unknown;
}

export interface FailRequest {
  lockToken: string;
  error: { message: string; code?: string };
  retryable?: boolean;
}

export interface ExtendRequest {
  lockToken: string;
  lockMs: number;
}

export interface ProgressRequest {
  lockToken: string;
  percent: number;
  message?: string;
}

export interface QueueView {
  capability: string;
  pending: number;
  locked: number;
  delayed: number;
  oldestPendingAgeMs: number;
  agents: Record<ServiceStatus, number>;
}

export interface AgentInstanceView {
  instanceId: string;
  status: ServiceStatus;
  lastHeartbeatAt: string;
  load?: InstanceLoad;
}

export interface AgentKeyView {
  id: string;
  key: string;
  agentId: string;
}

/**
 * Typed refusals of the protocol; the API maps them once (problem.filter.ts):
 * NOT_FOUND 404, LOCK_LOST / TASK_CANCELLED / AGENT_DECOMMISSIONING / INSTANCE_OFFLINE 409,
 * AGENT_NOT_ACTIVE 422.
 */
export type AgentWorkErrorCode =
  | 'NOT_FOUND'
  | 'LOCK_LOST'
  | 'TASK_CANCELLED'
  | 'AGENT_DECOMMISSIONING'
  | 'INSTANCE_OFFLINE'
  | 'AGENT_NOT_ACTIVE';

export class AgentWorkError extends Error {
  constructor(
    readonly code: AgentWorkErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AgentWorkError';
  }
}

export function isAgentWorkError(err: unknown, code?: AgentWorkErrorCode): err is AgentWorkError {
  return err instanceof AgentWorkError && (code === undefined || err.code === code);
}

/** What the API's agent routes call. */
export interface AgentWork {
  heartbeat(agent: AgentPrincipal, req: HeartbeatRequest): Promise<HeartbeatResponse>;
  /** Long poll: resolves as soon as tasks are locked, or with [] after waitMs or when `signal` aborts. */
  poll(agent: AgentPrincipal, req: PollRequest, signal?: AbortSignal): Promise<PolledTask[]>;
  complete(agent: AgentPrincipal, taskId: string, req: CompleteRequest): Promise<void>;
  fail(agent: AgentPrincipal, taskId: string, req: FailRequest): Promise<void>;
  extend(agent: AgentPrincipal, taskId: string, req: ExtendRequest): Promise<{ lockedUntil: string }>;
  progress(agent: AgentPrincipal, taskId: string, req: ProgressRequest): Promise<void>;
  /** Operator view of the tenant's queues. */
  queues(tenantId: string): Promise<QueueView[]>;
  /** Instances of an agent (for the agent view). */
  instances(tenantId: string, agentId: string): Promise<AgentInstanceView[]>;
  /** The saga's agent tasks still in a queue, by step (for the saga view's `queue` and `progress`). */
  sagaSteps(tenantId: string, sagaId: string): Promise<Record<string, SagaStepQueueView>>;
}

/** What the saga view shows of a step whose task waits in, or was taken from, an agent queue. */
export interface SagaStepQueueView {
  queue: { capability: string; agentId?: string; lockedUntil?: string };
  progress?: { percent: number; message?: string };
}

export const AGENT_WORK = Symbol('AGENT_WORK');
