import { SagaError } from './saga.errors';
import { SagaIdentity, SagaStatus, StepPlan, StepStatus } from './saga.types';

/**
 * The statuses after which nothing is due: the executor leaves the saga, live streams end.
 * COMPENSATION_FAILED waits for an operator, whose retry or skip takes the saga out of it again.
 */
export const TERMINAL_SAGA_STATUSES: readonly SagaStatus[] = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'];

/** The statuses an operator's cancel applies to. */
export const CANCELLABLE_SAGA_STATUSES: readonly SagaStatus[] = ['SCHEDULED', 'RUNNING', 'SUSPENDED'];

/** The events that put a saga in one of the TERMINAL_SAGA_STATUSES. */
export const TERMINAL_SAGA_EVENTS: readonly string[] = ['SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed'];

export function isTerminalSagaStatus(status: string): boolean {
  return (TERMINAL_SAGA_STATUSES as readonly string[]).includes(status);
}

export interface SagaStepState {
  status: StepStatus;
  /** Attempts started so far (the running or last attempt's number). */
  attempts: number;
  /** Compensation attempts started since the last operator retry. */
  compensationAttempts: number;
  /**
   * Operator retries of this step's compensation so far. Compensation attempt numbers restart at 1
   * after a retry; `(compensationRound, compensationAttempts)` stays unique for effect ids.
   */
  compensationRound: number;
  startedAt?: string;
  finishedAt?: string;
  output?: unknown;
  error?: string;
  /** Where the platform decided the failure: TIMEOUT, EXPIRED, LOCK_EXPIRED, CANCELLED, ... */
  errorCode?: string;
  /**
   * Step FAILED: when the next attempt is due (absent: the failure was final).
   * Step COMPENSATING: when the next compensation attempt is due.
   */
  nextAttemptDueAt?: string;
  /** Set while an attempt (RUNNING) or a compensation attempt (COMPENSATING) is in flight. */
  timeoutAt?: string;
  /**
   * Attempts made before the last resume: a resumed step gets fresh attempts (its retry budget
   * counts from here) while attempt numbers, which effect ids derive from, keep growing.
   */
  attemptOffset?: number;
}

/** A signal delivered to the saga, kept until a `wait` step of its name takes it. */
export interface ReceivedSignal {
  name: string;
  signalId: string;
  payload?: unknown;
  at: string;
  /** The wait step whose output it became. */
  consumedBy?: string;
}

export interface CompensationEntry {
  step: string;
  status: 'STARTED' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  attempt: number;
  error?: string;
  actor?: string;
  reason?: string;
  at: string;
}

export interface SagaState extends SagaIdentity {
  /** `NOT_STARTED` only before SagaStarted. */
  status: SagaStatus | 'NOT_STARTED';
  steps: Record<string, SagaStepState>;
  /** Step names in the order their StepSucceeded happened; compensation walks it backwards. */
  completionOrder: string[];
  /** The compensation log, in the order it happened. */
  compensations: CompensationEntry[];
  compensationReason?: string;
  failedStep?: string;
  cancelRequested?: { actor: string; reason: string; at: string };
  /** The operator whose cancel or compensate started the compensation (saga.rolled_back). */
  compensationActor?: string;
  /** While SUSPENDED: the step whose final failure suspended the saga. */
  suspendedStep?: string;
  /** Task configs an operator replaced on resume, by step. */
  configOverrides?: Record<string, unknown>;
  /** Signals delivered to the saga, in arrival order. */
  signals?: ReceivedSignal[];
  /** The step whose compensation failed for good, while COMPENSATION_FAILED. */
  stuckStep?: string;
  startedAt?: string;
  updatedAt?: string;
  finishedAt?: string;
}

export function initialSagaState(): SagaState {
  return {
    status: 'NOT_STARTED',
    sagaId: '',
    tenantId: '',
    sagaType: 'task-workflow',
    input: null,
    plan: { sagaType: 'task-workflow', maxParallel: 1, steps: [] },
    steps: {},
    completionOrder: [],
    compensations: [],
  };
}

export function stepPlanOf(state: SagaState, step: string): StepPlan | undefined {
  return state.plan.steps.find((s) => s.name === step);
}

/** The plan of `step`; refuses a step the saga does not have. */
export function requireStep(state: SagaState, step: string): StepPlan {
  const plan = stepPlanOf(state, step);
  if (!plan) throw new SagaError('UNKNOWN_STEP', `saga has no step ${step}`, { step });
  return plan;
}

export function runningSteps(state: SagaState): string[] {
  return state.plan.steps.filter((s) => state.steps[s.name]?.status === 'RUNNING').map((s) => s.name);
}

export function isCompensationInFlight(step: SagaStepState | undefined): boolean {
  return step?.status === 'COMPENSATING' && step.timeoutAt !== undefined;
}

/**
 * The step to compensate next: the latest-completed step that has a compensation and is not yet
 * COMPENSATED or SKIPPED. Compensation is strictly one at a time in exact reverse completion order.
 */
export function nextStepToCompensate(state: SagaState): string | undefined {
  for (let i = state.completionOrder.length - 1; i >= 0; i--) {
    const name = state.completionOrder[i];
    const status = state.steps[name]?.status;
    if (!stepPlanOf(state, name)?.compensation) continue;
    if (status === 'COMPENSATED' || status === 'SKIPPED') continue;
    return name;
  }
  return undefined;
}

/** True when compensation is over: nothing in flight and nothing completed left to undo. */
export function isCompensationDone(state: SagaState): boolean {
  return runningSteps(state).length === 0 && nextStepToCompensate(state) === undefined;
}

/** The first signal of `name` no wait step has taken yet. */
export function pendingSignal(state: SagaState, name: string): ReceivedSignal | undefined {
  return state.signals?.find((s) => s.name === name && s.consumedBy === undefined);
}

/** Steps run in this saga state: RUNNING, or SCHEDULED once its time has come. */
export function runsSteps(state: SagaState, atMs: number): boolean {
  return state.status === 'RUNNING' || (state.status === 'SCHEDULED' && state.startAt !== undefined && atMs >= Date.parse(state.startAt));
}

export function dependenciesSucceeded(state: SagaState, plan: StepPlan): boolean {
  return plan.dependsOn.every((d) => state.steps[d]?.status === 'SUCCEEDED');
}
