import { DeciderSpecification, ExpectedErrors } from '@app/domain';
import { SagaCommand } from '../saga.commands';
import { decide, foldSagaEvents, sagaDecider } from '../saga.decider';
import { isSagaError, SagaError } from '../saga.errors';
import { SagaEvent } from '../saga.events';
import { SagaState } from '../saga.state';

const SAGA_ERRORS: ExpectedErrors = { is: (error): error is SagaError => isSagaError(error), name: 'SagaError' };

/** given(events).when(command).then(events) / thenThrows(code) for the saga decider. */
export const { given } = DeciderSpecification.for(sagaDecider, SAGA_ERRORS);

export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
/** The ISO time `ms` milliseconds after T0. */
export const at = (ms = 0): string => new Date(T0 + ms).toISOString();

/** A saga's history that grows as commands are decided on it, like the executor would append. */
export class SagaRun {
  readonly events: SagaEvent[];
  constructor(...events: (SagaEvent | SagaEvent[])[]) {
    this.events = events.flat();
  }
  get state(): SagaState {
    return foldSagaEvents(this.events);
  }
  /** Decides `command` on the current state and appends what it produced. */
  do(command: SagaCommand): SagaEvent[] {
    const produced = decide(command, this.state);
    this.events.push(...produced);
    return produced;
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}
