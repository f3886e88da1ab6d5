export type SagaStatus =
  | 'SCHEDULED'
  | 'RUNNING'
  | 'SUSPENDED'
  | 'COMPLETED'
  | 'COMPENSATING'
  | 'COMPENSATED'
  | 'COMPENSATION_FAILED';

export const SAGA_STATUSES: readonly SagaStatus[] = ['SCHEDULED', 'RUNNING', 'SUSPENDED', 'COMPLETED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED'];

/** What a saga does when a step fails for good: compensate (default), or wait for an operator. */
export type OnFailure = 'compensate' | 'suspend';

/** A wait step without a timeout of its own waits this long (a year: as good as forever). */
export const WAIT_FOREVER_MS = 31_536_000_000;

export type StepStatus =
  | 'PENDING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'COMPENSATING'
  | 'COMPENSATED'
  | 'COMPENSATION_FAILED'
  | 'SKIPPED';

export type SagaType = 'agent-provisioning' | 'task-workflow' | 'agent-decommissioning';

export const SAGA_TYPES: readonly SagaType[] = ['agent-provisioning', 'task-workflow', 'agent-decommissioning'];

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  multiplier: number;
  maxBackoffMs: number;
}

export const DEFAULT_STEP_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  backoffMs: 200,
  multiplier: 2,
  maxBackoffMs: 30_000,
});

export const DEFAULT_COMPENSATION_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  backoffMs: 200,
  multiplier: 2,
  maxBackoffMs: 30_000,
});

export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

export type PriorityName = 'LOW' | 'NORMAL' | 'HIGH' | 'CRITICAL';

/** Higher runs first. */
export const STEP_PRIORITY: Readonly<Record<PriorityName, number>> = Object.freeze({
  LOW: 0,
  NORMAL: 1,
  HIGH: 2,
  CRITICAL: 3,
});

export interface CompensationPlan {
  retry: RetryPolicy;
  timeoutMs: number;
}

export interface StepPlan {
  name: string;
  dependsOn: string[];
  /** Higher first: LOW=0, NORMAL=1, HIGH=2, CRITICAL=3. */
  priority: number;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Absent: the step is a pivot or has nothing to undo; it is never compensated. */
  compensation?: CompensationPlan;
  /**
   * A `wait` step: it succeeds with the payload of the first signal of this name delivered to the
   * saga (kept if it came earlier). No effect runs; its timeout and retry policy apply as usual.
   */
  waitFor?: string;
  /**
   * The step's work is done outside the worker (an agent takes it from a queue): no effect runs
   * in-process, `timeoutMs` does not bound the attempt from its start (the queue bounds it from
   * the lock), and when the saga stops running the attempt is cancelled at once.
   */
  external?: boolean;
}

/**
 * A step with the default policies unless told otherwise. `compensable` gives it a compensation
 * with the step's own timeout and the default compensation retry.
 */
export function stepPlan(
  name: string,
  options: {
    dependsOn: string[];
    priority: number;
    retry?: Partial<RetryPolicy>;
    timeoutMs?: number;
    compensable: boolean;
    external?: boolean;
    waitFor?: string;
  },
): StepPlan {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  return {
    name,
    dependsOn: options.dependsOn,
    priority: options.priority,
    retry: { ...DEFAULT_STEP_RETRY, ...options.retry },
    timeoutMs,
    ...(options.compensable ? { compensation: { retry: { ...DEFAULT_COMPENSATION_RETRY }, timeoutMs } } : {}),
    ...(options.external || options.waitFor !== undefined ? { external: true } : {}),
    ...(options.waitFor !== undefined ? { waitFor: options.waitFor } : {}),
  };
}

export interface SagaPlan {
  sagaType: SagaType;
  maxParallel: number;
  steps: StepPlan[];
}

/**
 * What a saga is started with: StartSaga carries it, SagaStarted records it, the state keeps it.
 * Typed once so the three cannot drift apart.
 */
export interface SagaIdentity {
  sagaId: string;
  tenantId: string;
  sagaType: SagaType;
  input: unknown;
  plan: SagaPlan;
  idempotencyKey?: string;
  /** Correlation id of the request that started the saga: carried by every event it causes. */
  correlationId?: string;
  /** `suspend`: a step's final failure suspends the saga for an operator instead of compensating. */
  onFailure?: OnFailure;
  /** The saga is SCHEDULED until then (ISO time). */
  startAt?: string;
  /** The stored workflow definition it was started from. */
  definition?: { name: string; version: number };
}

/** The identity fields of `d` alone, leaving out the optional ones it lacks. */
export function sagaIdentityOf(d: SagaIdentity): SagaIdentity {
  return {
    sagaId: d.sagaId,
    tenantId: d.tenantId,
    sagaType: d.sagaType,
    input: d.input,
    plan: d.plan,
    ...(d.idempotencyKey !== undefined ? { idempotencyKey: d.idempotencyKey } : {}),
    ...(d.correlationId !== undefined ? { correlationId: d.correlationId } : {}),
    ...(d.onFailure === 'suspend' ? { onFailure: d.onFailure } : {}),
    ...(d.startAt !== undefined ? { startAt: d.startAt } : {}),
    ...(d.definition !== undefined ? { definition: d.definition } : {}),
  };
}

/** An agent's task (queued for an agent), as opposed to a `wait` step, which is external too. */
export function isAgentStep(plan: StepPlan | undefined): boolean {
  return plan?.external === true && plan.waitFor === undefined;
}

/** The stream a saga's events live in. */
export function sagaStreamId(sagaId: string): string {
  return `saga-${sagaId}`;
}
