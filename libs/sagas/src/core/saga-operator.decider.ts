import { CancelSaga, CompensateSaga, ReceiveSignal, ResumeSaga, RetryCompensation, SkipCompensation } from './saga.commands';
import { withCompensationFinished } from './saga-compensation.decider';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { CANCELLABLE_SAGA_STATUSES, SagaState, isTerminalSagaStatus } from './saga.state';
import { toIso } from './time';

/** Operators retry or skip only a saga stuck in COMPENSATION_FAILED. */
function requireStuck(state: SagaState): void {
  if (state.status !== 'COMPENSATION_FAILED') {
    throw new SagaError('SAGA_NOT_STUCK', `saga is ${state.status}, not COMPENSATION_FAILED`, { status: state.status });
  }
}

export function retryCompensation(command: RetryCompensation, state: SagaState): SagaEvent[] {
  requireStuck(state);
  const { actor, reason } = command.data;
  return [{ type: 'CompensationRetried', data: { actor, ...(reason !== undefined ? { reason } : {}), at: toIso(command.data.at) } }];
}

export function skipCompensation(command: SkipCompensation, state: SagaState): SagaEvent[] {
  requireStuck(state);
  const { step, actor, reason } = command.data;
  if (step !== state.stuckStep) {
    throw new SagaError('STEP_NOT_STUCK', `the stuck step is ${state.stuckStep}, not ${step}`, {
      step,
      stuckStep: state.stuckStep,
    });
  }
  const at = toIso(command.data.at);
  return withCompensationFinished(state, [{ type: 'CompensationSkipped', data: { step, actor, reason, at } }], at);
}

export function cancelSaga(command: CancelSaga, state: SagaState): SagaEvent[] {
  if (!(CANCELLABLE_SAGA_STATUSES as readonly string[]).includes(state.status)) {
    throw new SagaError('SAGA_NOT_RUNNING', `saga is ${state.status}: only a SCHEDULED, RUNNING or SUSPENDED saga can be cancelled`, { status: state.status });
  }
  const { actor, reason } = command.data;
  const at = toIso(command.data.at);
  return withCompensationFinished(
    state,
    [
      { type: 'SagaCancelRequested', data: { actor, reason, at } },
      { type: 'CompensationStarted', data: { reason, actor, at } },
    ],
    at,
  );
}

function requireSuspended(state: SagaState): void {
  if (state.status !== 'SUSPENDED') {
    throw new SagaError('SAGA_NOT_SUSPENDED', `saga is ${state.status}, not SUSPENDED`, { status: state.status });
  }
}

/**
 * Resume a SUSPENDED saga: every step that failed for good runs again with fresh attempts; `config`
 * replaces the suspending step's task config (task-workflow only: the other saga types' steps are
 * the platform's own).
 */
export function resumeSaga(command: ResumeSaga, state: SagaState): SagaEvent[] {
  requireSuspended(state);
  const { actor, reason, config } = command.data;
  if (config !== undefined && state.sagaType !== 'task-workflow') {
    throw new SagaError('INVALID_COMMAND', `config can only be replaced in a task-workflow saga, not in ${state.sagaType}`, { field: 'config' });
  }
  const waiting = state.plan.steps.find((p) => p.name === state.suspendedStep && p.waitFor !== undefined);
  if (config !== undefined && waiting) {
    const c = config as { signal?: unknown; timeoutMs?: unknown };
    const validTimeout = c.timeoutMs === undefined || (Number.isInteger(c.timeoutMs) && (c.timeoutMs as number) >= 1);
    if (typeof c.signal !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(c.signal) || !validTimeout) {
      throw new SagaError('INVALID_COMMAND', 'a wait task\'s config needs signal matching [A-Za-z0-9_.-]{1,100} and an optional whole timeoutMs ≥ 1', { field: 'config' });
    }
  }
  const steps = state.plan.steps.filter((p) => state.steps[p.name]?.status === 'FAILED' && state.steps[p.name].nextAttemptDueAt === undefined).map((p) => p.name);
  const step = state.suspendedStep;
  return [
    {
      type: 'SagaResumed',
      data: { actor, reason, ...(step !== undefined ? { step } : {}), steps, ...(config !== undefined ? { config } : {}), at: toIso(command.data.at) },
    },
  ];
}

/** Compensate a SUSPENDED saga: its completed steps are undone in reverse order. */
export function compensateSaga(command: CompensateSaga, state: SagaState): SagaEvent[] {
  requireSuspended(state);
  const { actor, reason } = command.data;
  const at = toIso(command.data.at);
  return withCompensationFinished(state, [{ type: 'CompensationStarted', data: { reason, actor, at } }], at);
}

/**
 * A signal for the saga's `wait` steps of that name: kept until one takes it. The same `signalId`
 * again is one delivery (nothing new); a terminal saga takes no signals.
 */
export function receiveSignal(command: ReceiveSignal, state: SagaState): SagaEvent[] {
  const { name, signalId, payload } = command.data;
  // A repeated delivery (a client's retry) is accepted again, even once the signal ended the saga.
  if (state.signals?.some((s) => s.signalId === signalId)) return [];
  if (isTerminalSagaStatus(state.status)) {
    throw new SagaError('SAGA_TERMINAL', `saga is ${state.status}: it takes no signals`, { status: state.status });
  }
  return [{ type: 'SignalReceived', data: { name, signalId, ...(payload !== undefined ? { payload } : {}), at: toIso(command.data.at) } }];
}
