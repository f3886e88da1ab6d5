import { CancelSaga, RetryCompensation, SkipCompensation } from './saga.commands';
import { withCompensationFinished } from './saga-compensation.decider';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { SagaState } from './saga.state';
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
  if (state.status !== 'RUNNING') {
    throw new SagaError('SAGA_NOT_RUNNING', `saga is ${state.status}, not RUNNING`, { status: state.status });
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
