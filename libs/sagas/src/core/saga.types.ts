export type SagaStatus = 'RUNNING' | 'COMPLETED' | 'COMPENSATING' | 'COMPENSATED' | 'COMPENSATION_FAILED';

export type StepStatus =
  | 'PENDING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'COMPENSATING'
  | 'COMPENSATED'
  | 'COMPENSATION_FAILED'
  | 'SKIPPED';

export type SagaType = 'agent-provisioning' | 'task-workflow';

export const SAGA_TYPES: readonly SagaType[] = ['agent-provisioning', 'task-workflow'];

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
}

export interface SagaPlan {
  sagaType: SagaType;
  maxParallel: number;
  steps: StepPlan[];
}

/** The stream a saga's events live in. */
export function sagaStreamId(sagaId: string): string {
  return `saga-${sagaId}`;
}
