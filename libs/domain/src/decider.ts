/** Something that happened: a stable past-tense `type` and plain JSON `data`. */
export interface DomainEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

/** An intent addressed to one aggregate; same shape as an event so both serialise alike. */
export interface DomainCommand<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

/**
 * An aggregate as three pure functions. `decide` throws a `DomainError` to refuse a command and
 * returns `[]` when the command is already satisfied, so retried commands write nothing.
 * States are plain JSON (no Map, Set or Date) so they can be stored as snapshots.
 */
export interface Decider<State, Command, Event extends DomainEvent> {
  initialState(): State;
  evolve(state: State, event: Event): State;
  decide(command: Command, state: State): Event[];
}

/**
 * A command refused by a business rule. One class with a string `code` (e.g. `QUOTA_EXCEEDED`)
 * rather than a class per rule: the API maps codes to HTTP statuses in one place.
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Rebuilds state from events, starting from `state` (e.g. a snapshot) or the initial state. */
export function fold<State, Event extends DomainEvent>(
  decider: Pick<Decider<State, unknown, Event>, 'initialState' | 'evolve'>,
  events: readonly Event[],
  state: State = decider.initialState(),
): State {
  return events.reduce((current, event) => decider.evolve(current, event), state);
}

/**
 * For a command that creates its aggregate on behalf of a saga: `false` when the aggregate does not
 * exist yet, `true` when that same saga created it (its own retry after a crash: nothing to write).
 * Anyone else collides: the error `collision` makes of the existing aggregate is thrown.
 */
export function createdBySameSaga<Existing extends { status: string; sagaId: string }>(
  state: { status: 'NONE' } | Existing,
  sagaId: string,
  collision: (existing: Existing) => DomainError,
): boolean {
  if (state.status === 'NONE') return false;
  const existing = state as Existing;
  if (existing.sagaId === sagaId) return true;
  throw collision(existing);
}
