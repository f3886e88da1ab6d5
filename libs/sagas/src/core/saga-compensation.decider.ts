import { backoffDelayMs } from './retry';
import { FailStepCompensation, FinishCompensation, StartStepCompensation, SucceedStepCompensation } from './saga.commands';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { foldSagaEvents } from './saga.evolve';
import {
  SagaState,
  isCompensationDone,
  isCompensationInFlight,
  nextStepToCompensate,
  requireStep,
  runningSteps,
} from './saga.state';
import { StepPlan } from './saga.types';
import { addMs, toIso } from './time';

/** Appends to `events` the SagaCompensated that follows when compensation has nothing left. */
export function withCompensationFinished(state: SagaState, events: SagaEvent[], at: string): SagaEvent[] {
  const after = foldSagaEvents(events, state);
  if (after.status === 'COMPENSATING' && isCompensationDone(after)) {
    return [...events, sagaCompensated(after, at)];
  }
  return events;
}

export function startStepCompensation(command: StartStepCompensation, state: SagaState): SagaEvent[] {
  const { step } = command.data;
  const plan = requireStep(state, step);
  const at = toIso(command.data.at);
  const refuse = (why: string) => new SagaError('STEP_NOT_COMPENSABLE', why, { step });
  if (state.status !== 'COMPENSATING') throw refuse(`saga is ${state.status}`);
  const running = runningSteps(state);
  if (running.length > 0) throw refuse(`steps still running: ${running.join(', ')}`);
  const next = nextStepToCompensate(state);
  if (next !== step) throw refuse(next ? `${next} must be compensated first` : `nothing left to compensate`);
  const st = state.steps[step];
  if (isCompensationInFlight(st)) throw refuse(`compensation of ${step} is already running`);
  if (st.nextAttemptDueAt !== undefined && Date.parse(at) < Date.parse(st.nextAttemptDueAt)) {
    throw refuse(`compensation retry of ${step} is due at ${st.nextAttemptDueAt}`);
  }
  return [
    {
      type: 'StepCompensationStarted',
      data: { step, attempt: st.compensationAttempts + 1, at, timeoutAt: addMs(at, plan.compensation!.timeoutMs) },
    },
  ];
}

/**
 * The plan of the step whose compensation attempt `data` reports, or undefined when that attempt is
 * not the one in flight (a late or repeated report, which changes nothing).
 */
function currentCompensation(state: SagaState, data: { step: string; attempt: number }): StepPlan | undefined {
  const plan = requireStep(state, data.step);
  const st = state.steps[data.step];
  const current = state.status === 'COMPENSATING' && isCompensationInFlight(st) && st.compensationAttempts === data.attempt;
  return current ? plan : undefined;
}

export function succeedStepCompensation(command: SucceedStepCompensation, state: SagaState): SagaEvent[] {
  const { step, attempt } = command.data;
  if (!currentCompensation(state, command.data)) return [];
  const at = toIso(command.data.at);
  return withCompensationFinished(state, [{ type: 'StepCompensated', data: { step, attempt, at } }], at);
}

export function failStepCompensation(command: FailStepCompensation, state: SagaState): SagaEvent[] {
  const { step, attempt, error } = command.data;
  const plan = currentCompensation(state, command.data);
  if (!plan) return [];
  const at = toIso(command.data.at);
  const retry = plan.compensation!.retry;
  if (command.data.retryable !== false && attempt < retry.maxAttempts) {
    const retryAt = addMs(at, backoffDelayMs(retry, attempt, command.data.jitter));
    return [{ type: 'StepCompensationFailed', data: { step, attempt, error, final: false, retryAt, at } }];
  }
  return [
    { type: 'StepCompensationFailed', data: { step, attempt, error, final: true, at } },
    { type: 'SagaCompensationFailed', data: { step, error, at } },
  ];
}

export function finishCompensation(command: FinishCompensation, state: SagaState): SagaEvent[] {
  if (state.status !== 'COMPENSATING' || !isCompensationDone(state)) {
    throw new SagaError('COMPENSATION_NOT_FINISHED', `saga is ${state.status} with compensation work left`);
  }
  return [sagaCompensated(state, toIso(command.data.at))];
}

/** The end of a compensation; `rolledBack` when an operator's cancel or compensate started it. */
function sagaCompensated(state: SagaState, at: string): SagaEvent {
  return { type: 'SagaCompensated', data: { at, ...(state.compensationActor !== undefined ? { rolledBack: true } : {}) } };
}
