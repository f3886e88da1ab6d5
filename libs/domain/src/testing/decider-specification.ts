import { Decider, DomainError, DomainEvent, fold } from '../decider';

/** A refusal as deciders throw them: a string `code`, optional details. */
export interface CodedError {
  code: string;
  details?: Record<string, unknown>;
}

/** Which thrown errors are the decider's refusals (anything else is a bug), and their name in messages. */
export interface ExpectedErrors {
  is(error: unknown): error is CodedError;
  name: string;
}

export const DOMAIN_ERRORS: ExpectedErrors = { is: (error): error is DomainError => error instanceof DomainError, name: 'DomainError' };

/**
 * Given/when/then for deciders: `given(events).when(command).then(events)`, `thenThrows(code)`
 * (after emmett's DeciderSpecification). `errors` says which throws are refusals: `DomainError`
 * by default. Test-only: it calls Jest's global `expect`, and only when an assertion runs, so
 * importing it elsewhere is harmless.
 */
export const DeciderSpecification = {
  for<State, Command, Event extends DomainEvent>(decider: Decider<State, Command, Event>, errors: ExpectedErrors = DOMAIN_ERRORS) {
    return {
      /** The history, as events or arrays of events (flattened in order). */
      given(...history: (Event | readonly Event[])[]) {
        const state = fold(decider, history.flat() as Event[]);
        return {
          /** The state folded from the given events. */
          state,
          when(command: Command) {
            const decide = () => decider.decide(command, state);
            return {
              /** Returns the produced events, for further checks. */
              then(expected: Event[]): Event[] {
                const produced = decide();
                expect(produced).toEqual(expected);
                return produced;
              },
              /** The command is already satisfied: a retry writes nothing. */
              thenNothing(): void {
                expect(decide()).toEqual([]);
              },
              /** `details`, when given, must be a subset of the error's details. */
              thenThrows(code: string, details?: Record<string, unknown>): void {
                let result: Event[];
                try {
                  result = decide();
                } catch (error) {
                  expect(errors.is(error) ? error.code : error).toBe(code);
                  if (details) expect((error as CodedError).details).toMatchObject(details);
                  return;
                }
                throw new Error(`expected ${errors.name} ${code}, but decide returned ${JSON.stringify(result)}`);
              },
              /** `check` receives the state after the produced events, and the events. */
              thenState(check: (state: State, produced: Event[]) => void): void {
                const produced = decide();
                check(fold(decider, produced, state), produced);
              },
            };
          },
        };
      },
    };
  },
};
