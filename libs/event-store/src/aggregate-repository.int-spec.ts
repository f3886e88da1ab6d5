import { randomUUID } from 'crypto';
import {
  AggregateRepository,
  AggregateType,
  AppendOptions,
  AppendResult,
  deleteSnapshots,
  NewEvent,
  PostgresEventStore,
  TransactionalOptions,
} from '@app/event-store';
import { useStoreDatabase } from './testing/append-fixtures';
import { waitFor } from './testing/wait-for';

jest.setTimeout(60_000);

// A small counter aggregate: a decider of pure functions with a plain JSON state.
interface CounterState {
  value: number;
  adds: number;
  resets: number;
  history: number[];
}
type CounterCommand = { type: 'Add'; amount: number } | { type: 'Reset' };
type CounterEvent = { type: 'Added'; data: { amount: number } } | { type: 'WasReset'; data: { from: number } };

const decider = {
  initialState: (): CounterState => ({ value: 0, adds: 0, resets: 0, history: [] }),
  evolve(state: CounterState, event: CounterEvent): CounterState {
    switch (event.type) {
      case 'Added':
        return { ...state, value: state.value + event.data.amount, adds: state.adds + 1, history: [...state.history, event.data.amount] };
      case 'WasReset':
        return { ...state, value: 0, resets: state.resets + 1, history: [...state.history, -event.data.from] };
    }
  },
  decide(command: CounterCommand, state: CounterState): CounterEvent[] {
    return command.type === 'Add' ? [{ type: 'Added', data: { amount: command.amount } }] : [{ type: 'WasReset', data: { from: state.value } }];
  },
};

const counter: AggregateType<CounterState, CounterCommand, CounterEvent> = {
  category: 'counter',
  decider,
  snapshot: { every: 10, schemaVersion: 1 },
};
const counterWithoutSnapshots: AggregateType<CounterState, CounterCommand, CounterEvent> = { category: 'counter', decider };
const counterStateV2: AggregateType<CounterState, CounterCommand, CounterEvent> = {
  category: 'counter',
  decider,
  snapshot: { every: 10, schemaVersion: 2 },
};

const tenantId = 'tenant-counter';
const commandNumber = (i: number): CounterCommand => (i % 13 === 12 ? { type: 'Reset' } : { type: 'Add', amount: (i % 7) + 1 });

const db = useStoreDatabase();
let repo: AggregateRepository;
beforeAll(() => {
  repo = new AggregateRepository(db.store);
});

async function storedVersions(streamId: string): Promise<number[]> {
  const { rows } = await db.tdb.pool.query('select version from events where stream_id = $1 order by version', [streamId]);
  return rows.map((r) => r.version);
}

async function snapshotVersions(streamId: string): Promise<number[]> {
  const { rows } = await db.tdb.pool.query('select version from snapshots where stream_id = $1 order by schema_version', [streamId]);
  return rows.map((r) => r.version);
}

describe('AggregateRepository snapshots', () => {
  const id = randomUUID();
  const streamId = `counter-${id}`;
  /** The state after each command, folded in memory: the expected answers. */
  const expectedStates: CounterState[] = [];

  beforeAll(async () => {
    let state = decider.initialState();
    for (let i = 0; i < 95; i++) {
      const command = commandNumber(i);
      for (const e of decider.decide(command, state)) state = decider.evolve(state, e);
      expectedStates.push(state);
      const result = await repo.handle(counter, id, command, { tenantId });
      expect(result.version).toBe(i);
      expect(result.state).toEqual(state);
    }
  });

  it('snapshots every 10 events', async () => {
    expect(await storedVersions(streamId)).toEqual(Array.from({ length: 95 }, (_, i) => i));
    // The newest snapshot replaces the older ones: versions 9, 19, …, 89.
    expect(await snapshotVersions(streamId)).toEqual([89]);
    const snap = await db.store.readSnapshot<CounterState>(streamId, 1);
    expect(snap).toEqual({ streamId, schemaVersion: 1, version: 89, state: expectedStates[89] });
  });

  it('load from snapshot + tail gives the same state as a full replay', async () => {
    const fromSnapshot = await repo.load(counter, id);
    const replayed = await repo.load(counter, id, { useSnapshots: false });

    expect(fromSnapshot).toMatchObject({ streamId, version: 94, fromSnapshot: true });
    expect(replayed).toMatchObject({ streamId, version: 94, fromSnapshot: false });
    expect(fromSnapshot.state).toEqual(replayed.state);
    expect(fromSnapshot.state).toEqual(expectedStates[94]);
  });

  it('loads the state at a given version, below and above the snapshot', async () => {
    const below = await repo.load(counter, id, { atVersion: 42 });
    expect(below).toMatchObject({ version: 42, fromSnapshot: false });
    expect(below.state).toEqual(expectedStates[42]);

    const above = await repo.load(counter, id, { atVersion: 91 });
    expect(above).toMatchObject({ version: 91, fromSnapshot: true });
    expect(above.state).toEqual(expectedStates[91]);

    const atSnapshot = await repo.load(counter, id, { atVersion: 89 });
    expect(atSnapshot).toMatchObject({ version: 89 });
    expect(atSnapshot.state).toEqual(expectedStates[89]);

    const first = await repo.load(counter, id, { atVersion: 0 });
    expect(first).toMatchObject({ version: 0 });
    expect(first.state).toEqual(expectedStates[0]);
  });

  it('ignores snapshots of another state schema version', async () => {
    const loaded = await repo.load(counterStateV2, id);
    expect(loaded).toMatchObject({ version: 94, fromSnapshot: false });
    expect(loaded.state).toEqual(expectedStates[94]);
  });

  it('gives the same results after every snapshot is deleted', async () => {
    await deleteSnapshots(db.tdb.pool);
    expect(await snapshotVersions(streamId)).toEqual([]);

    const loaded = await repo.load(counter, id);
    expect(loaded).toMatchObject({ version: 94, fromSnapshot: false });
    expect(loaded.state).toEqual(expectedStates[94]);
    expect((await repo.load(counter, id, { atVersion: 91 })).state).toEqual(expectedStates[91]);

    // Handling goes on, and snapshots come back at the next boundary.
    for (let i = 95; i < 100; i++) await repo.handle(counter, id, commandNumber(i), { tenantId });
    expect(await snapshotVersions(streamId)).toEqual([99]);
    const again = await repo.load(counter, id);
    expect(again).toMatchObject({ version: 99, fromSnapshot: true });
    expect(again.state).toEqual((await repo.load(counterWithoutSnapshots, id)).state);
  });
});

describe('AggregateRepository.handle', () => {
  it('a new aggregate loads as the initial state at version -1', async () => {
    expect(await repo.load(counter, randomUUID())).toMatchObject({ state: decider.initialState(), version: -1, fromSnapshot: false });
  });

  it('retries on a version conflict: two concurrent handles both succeed on gapless versions', async () => {
    // Both appends are held until both commands have loaded the same version, so one must conflict.
    let arrived = 0;
    let appendCalls = 0;
    class RacingStore extends PostgresEventStore {
      override async appendToStream(streamId: string, events: NewEvent[], options: AppendOptions & TransactionalOptions): Promise<AppendResult> {
        appendCalls++;
        if (arrived < 2) {
          arrived++;
          await waitFor(() => arrived >= 2, { what: 'both commands loaded' });
        }
        return super.appendToStream(streamId, events, options);
      }
    }
    const racing = new AggregateRepository(new RacingStore(db.tdb.pool));
    const id = randomUUID();
    await repo.handle(counter, id, { type: 'Add', amount: 1 }, { tenantId });
    appendCalls = 0;

    const [a, b] = await Promise.all([
      racing.handle(counter, id, { type: 'Add', amount: 10 }, { tenantId }),
      racing.handle(counter, id, { type: 'Add', amount: 100 }, { tenantId }),
    ]);

    expect(appendCalls).toBe(3); // two first attempts, one retry
    expect([a.version, b.version].sort()).toEqual([1, 2]);
    expect(await storedVersions(`counter-${id}`)).toEqual([0, 1, 2]);
    expect((await repo.load(counter, id)).state.value).toBe(111);
  });

  it('without retries the loser of a race gets WRONG_EXPECTED_VERSION', async () => {
    const id = randomUUID();
    let arrived = 0;
    class RacingStore extends PostgresEventStore {
      override async appendToStream(streamId: string, events: NewEvent[], options: AppendOptions & TransactionalOptions): Promise<AppendResult> {
        arrived++;
        await waitFor(() => arrived >= 2, { what: 'both commands loaded' });
        return super.appendToStream(streamId, events, options);
      }
    }
    const racing = new AggregateRepository(new RacingStore(db.tdb.pool));
    const outcomes = await Promise.allSettled([
      racing.handle(counter, id, { type: 'Add', amount: 1 }, { tenantId, maxRetries: 0 }),
      racing.handle(counter, id, { type: 'Add', amount: 2 }, { tenantId, maxRetries: 0 }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected?.reason).toMatchObject({ code: 'WRONG_EXPECTED_VERSION' });
  });

  it('20 concurrent handles on one aggregate all succeed on gapless versions', async () => {
    const id = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => repo.handle(counter, id, { type: 'Add', amount: i + 1 }, { tenantId, maxRetries: 50 })),
    );
    expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await storedVersions(`counter-${id}`)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const loaded = await repo.load(counter, id);
    expect(loaded.state.value).toBe(210);
    expect(loaded.state).toEqual((await repo.load(counter, id, { useSnapshots: false })).state);
  });

  it('a repeated command with the same commandId appends nothing new', async () => {
    const id = randomUUID();
    const streamId = `counter-${id}`;
    await repo.handle(counter, id, { type: 'Add', amount: 1 }, { tenantId });
    const commandId = `saga-${randomUUID()}:add:do`;

    const first = await repo.handle(counter, id, { type: 'Add', amount: 5 }, { tenantId, commandId });
    const again = await repo.handle(counter, id, { type: 'Add', amount: 5 }, { tenantId, commandId });

    expect(first.version).toBe(1);
    expect(again.version).toBe(1);
    expect(await storedVersions(streamId)).toEqual([0, 1]);
    expect((await repo.load(counter, id)).state.value).toBe(6);
  });

  it('a repeated command with the same commandId returns the state as stored, not the events applied twice', async () => {
    const id = randomUUID();
    await repo.handle(counter, id, { type: 'Add', amount: 1 }, { tenantId });
    const commandId = `saga-${randomUUID()}:add:do`;

    const first = await repo.handle(counter, id, { type: 'Add', amount: 5 }, { tenantId, commandId });
    const again = await repo.handle(counter, id, { type: 'Add', amount: 5 }, { tenantId, commandId });

    const stored = await repo.load(counter, id);
    expect(first.state).toEqual(stored.state);
    expect(again.version).toBe(stored.version);
    expect(again.state).toEqual(stored.state);
  });
});
