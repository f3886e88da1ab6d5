/**
 * The wire shapes of the agent work protocol (API.md "Agents: the work protocol"), defined here once:
 * the SDK runs inside agent processes, in or out of this repository, and loads no server code; the
 * server (`libs/agents/src/agent-work.port.ts`) imports these types from here.
 */

export type InstanceReportedStatus = 'HEALTHY' | 'DEGRADED';
export type ServiceStatus = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY' | 'OFFLINE';

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
  /** 1..100, server default 1. */
  maxTasks?: number;
  /** 0..30000, server default 0 (no long poll). */
  waitMs?: number;
  /** 1000..600000, server default 60000. */
  lockMs?: number;
}

export interface PolledTask {
  taskId: string;
  /** Fencing token of this lock: every report about the task must carry it. */
  lockToken: string;
  lockedUntil: string;
  sagaId: string;
  /** The capability the task was queued for (`initial` for a provisioning smoke test). */
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

export interface TaskError {
  message: string;
  code?: string;
}

export interface FailRequest {
  lockToken: string;
  error: TaskError;
  /** false: do not retry whatever the task's retry policy says. */
  retryable?: boolean;
}

export interface ExtendRequest {
  lockToken: string;
  lockMs: number;
}

export interface ExtendResponse {
  lockedUntil: string;
}

export interface ProgressRequest {
  lockToken: string;
  /** 0..100 */
  percent: number;
  message?: string;
}

/** Codes the protocol answers refusals with (in the problem+json body's `code`). */
export type AgentWorkErrorCode =
  | 'NOT_FOUND'
  | 'LOCK_LOST'
  | 'TASK_CANCELLED'
  | 'AGENT_DECOMMISSIONING'
  | 'INSTANCE_OFFLINE'
  | 'AGENT_NOT_ACTIVE';
