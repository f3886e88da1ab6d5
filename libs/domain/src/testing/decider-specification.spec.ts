import { Decider, DomainError, DomainEvent, fold } from '../decider';
import { DeciderSpecification } from './decider-specification';

// A counter that refuses to go above 2: enough to prove the specification can fail.
type Added = DomainEvent<'Added', { by: number }>;
type Add = { type: 'Add'; data: { by: number } };
const counter: Decider<number, Add, Added> = {
  initialState: () => 0,
  evolve: (state, event) => state + event.data.by,
  decide: (command, state) => {
    if (state + command.data.by > 2) throw new DomainError('TOO_MANY', 'too many', { state });
    return command.data.by === 0 ? [] : [{ type: 'Added', data: command.data }];
  },
};
const spec = DeciderSpecification.for(counter);
const add = (by: number): Add => ({ type: 'Add', data: { by } });

describe('fold', () => {
  it('evolves from the initial state, or from a given state such as a snapshot', () => {
    const events: Added[] = [{ type: 'Added', data: { by: 1 } }, { type: 'Added', data: { by: 1 } }];
    expect(fold(counter, events)).toBe(2);
    expect(fold(counter, events, 10)).toBe(12);
  });
});

describe('DeciderSpecification', () => {
  it('decides against the state folded from the given events', () => {
    spec.given([{ type: 'Added', data: { by: 1 } }]).when(add(1)).then([{ type: 'Added', data: { by: 1 } }]);
    spec.given([{ type: 'Added', data: { by: 2 } }]).when(add(1)).thenThrows('TOO_MANY', { state: 2 });
    spec.given([]).when(add(0)).thenNothing();
  });

  it('fails when the events differ', () => {
    expect(() => spec.given([]).when(add(1)).then([{ type: 'Added', data: { by: 2 } }])).toThrow();
    expect(() => spec.given([]).when(add(1)).thenNothing()).toThrow();
  });

  it('fails when nothing is thrown, or another code or other details are', () => {
    expect(() => spec.given([]).when(add(1)).thenThrows('TOO_MANY')).toThrow(/expected DomainError TOO_MANY/);
    expect(() => spec.given([]).when(add(3)).thenThrows('OTHER')).toThrow();
    expect(() => spec.given([]).when(add(3)).thenThrows('TOO_MANY', { state: 1 })).toThrow();
  });
});
