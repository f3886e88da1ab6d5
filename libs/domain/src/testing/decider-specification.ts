import { Decider, DomainError, DomainEvent, fold } from '../decider';

/**
 * Given/when/then for deciders: `given(events).when(command).then(events)`. Test-only: it calls
 * Jest's global `expect`, and only when an assertion runs, so importing it elsewhere is harmless.
 */
export const DeciderSpecification = {
  for<State, Command, Event extends DomainEvent>(decider: Decider<State, Command, Event>) {
    return {
      given(events: readonly Event[] = []) {
        return {
          when(command: Command) {
            const decide = () => decider.decide(command, fold(decider, events));
            return {
              then(expected: Event[]): void {
                expect(decide()).toEqual(expected);
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
                  expect(error).toBeInstanceOf(DomainError);
                  expect((error as DomainError).code).toBe(code);
                  if (details) expect((error as DomainError).details).toMatchObject(details);
                  return;
                }
                throw new Error(`expected DomainError ${code}, but decide returned ${JSON.stringify(result)}`);
              },
            };
          },
        };
      },
    };
  },
};
