import { SagaCommand } from '../saga.commands';
import { decide, foldSagaEvents } from '../saga.decider';
import { isSagaError } from '../saga.errors';
import { SagaEvent } from '../saga.events';
import { SagaState } from '../saga.state';

/**
 * given(events).when(command).then(events) / thenThrows(code) for the saga decider
 * (after emmett's DeciderSpecification). `thenState` checks the fold after the new events.
 */
export function given(...history: (SagaEvent | SagaEvent[])[]) {
  const events = history.flat();
  const state = foldSagaEvents(events);
  return {
    state,
    when(command: SagaCommand) {
      const run = () => decide(command, state);
      return {
        then(expected: SagaEvent[]): SagaEvent[] {
          const produced = run();
          expect(produced).toEqual(expected);
          return produced;
        },
        thenNothingHappened(): void {
          expect(run()).toEqual([]);
        },
        thenThrows(code: string): void {
          let caught: unknown;
          try {
            run();
          } catch (err) {
            caught = err;
          }
          expect(caught).toBeDefined();
          expect(isSagaError(caught) ? caught.code : caught).toBe(code);
        },
        thenState(check: (state: SagaState, produced: SagaEvent[]) => void): void {
          const produced = run();
          check(foldSagaEvents(produced, state), produced);
        },
      };
    },
  };
}

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
