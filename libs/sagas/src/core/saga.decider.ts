import { SagaCommand, SagaCommandType } from './saga.commands';
import { cancelSaga, compensateSaga, receiveSignal, resumeSaga, retryCompensation, skipCompensation } from './saga-operator.decider';
import { failStepCompensation, finishCompensation, startStepCompensation, succeedStepCompensation } from './saga-compensation.decider';
import { failStep, startStep, succeedStep } from './saga-run.decider';
import { startSaga } from './saga-start.decider';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { evolve } from './saga.evolve';
import { SagaState, initialSagaState } from './saga.state';

export { evolve, foldSagaEvents } from './saga.evolve';
export { validatePlan } from './saga-start.decider';
export { whyNotStartable } from './saga-run.decider';

type Decision<C extends SagaCommand> = (command: C, state: SagaState) => SagaEvent[];

/** The decision of each command on a started saga, by command type (StartSaga comes first). */
const DECISIONS: { [T in Exclude<SagaCommandType, 'StartSaga'>]: Decision<Extract<SagaCommand, { type: T }>> } = {
  StartStep: startStep,
  SucceedStep: succeedStep,
  FailStep: failStep,
  StartStepCompensation: startStepCompensation,
  SucceedStepCompensation: succeedStepCompensation,
  FailStepCompensation: failStepCompensation,
  FinishCompensation: finishCompensation,
  RetryCompensation: retryCompensation,
  SkipCompensation: skipCompensation,
  CancelSaga: cancelSaga,
  ResumeSaga: resumeSaga,
  CompensateSaga: compensateSaga,
  ReceiveSignal: receiveSignal,
};

/** Turns a command into the events it causes, or throws a SagaError when the state refuses it. */
export function decide(command: SagaCommand, state: SagaState): SagaEvent[] {
  if (command.type === 'StartSaga') return startSaga(command, state);
  if (state.status === 'NOT_STARTED') {
    throw new SagaError('SAGA_NOT_FOUND', `saga has not been started`);
  }
  const decision = Object.hasOwn(DECISIONS, command.type) ? (DECISIONS[command.type] as Decision<SagaCommand>) : undefined;
  if (!decision) {
    const unknown: { type?: unknown } = command;
    throw new SagaError('INVALID_COMMAND', `unknown saga command ${String(unknown.type)}`);
  }
  return decision(command, state);
}

export const sagaDecider = {
  initialState: initialSagaState,
  evolve,
  decide,
};
