/**
 * The agent work protocol (API.md "Agents: the work protocol"), as the API calls it. The agent
 * is always the key's: routes pass the principal's tenant and agent, never one from the body.
 */

import type {
  AgentWorkErrorCode,
  CompleteRequest,
  ExtendRequest,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  InstanceLoad,
  InstanceReportedStatus,
  PollRequest,
  PolledTask,
  ProgressRequest,
  ServiceStatus,
} from '@app/agent-client';

/**
 * The wire shapes are the SDK's (libs/agent-client/src/protocol.types.ts): one definition of the
 * protocol for both ends. The SDK loads no server code; the server only borrows its types.
 */
export type {
  AgentWorkErrorCode,
  CompleteRequest,
  ExtendRequest,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  InstanceLoad,
  InstanceReportedStatus,
  PollRequest,
  PolledTask,
  ProgressRequest,
  ServiceStatus,
};

export const SERVICE_STATUS_ORDER: readonly ServiceStatus[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE'];

export interface AgentPrincipal {
  tenantId: string;
  agentId: string;
  keyId: string;
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
