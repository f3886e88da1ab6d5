import { randomUUID } from 'crypto';
import {
  AggregateRepository,
  AggregateType,
  eventIdFor,
  EventStoreError,
  PostgresEventStore,
  PreparedGroup,
  prepareAll,
  PrepareRequest,
  StreamAppend,
  Upcaster,
} from '@app/event-store';
import { useStoreDatabase } from './testing/append-fixtures';

jest.setTimeout(60_000);

// A small counter aggregate. `Reset` records the value it resets from, so the events a decision
// produces show which state it was decided on; `Fail` is a domain rule that always throws;
// `Subtract` throws when the counter would go negative.
interface CounterState {
  value: number;
  adds: number;
}
type CounterCommand =
  | { type: 'Add'; amount: number }
  | { type: 'Subtract'; amount: number }
  | { type: 'Reset' }
  | { type: 'Fail'; reason: string }
  | { type: 'Throw'; value: unknown }
  | { type: 'Noop' };
type CounterEvent = { type: 'Added'; data: { amount: number } } | { type: 'WasReset'; data: { from: number } };

class CounterRuleBroken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CounterRuleBroken';
  }
}

const decider = {
  initialState: (): CounterState => ({ value: 0, adds: 0 }),
  evolve(state: CounterState, event: CounterEvent): CounterState {
    switch (event.type) {
      case 'Added':
        return { value: state.value + event.data.amount, adds: state.adds + 1 };
      case 'WasReset':
        return { ...state, value: 0 };
    }
  },
  decide(command: CounterCommand, state: CounterState): CounterEvent[] {
    switch (command.type) {
      case 'Add':
        return [{ type: 'Added', data: { amount: command.amount } }];
      case 'Subtract':
        if (state.value - command.amount < 0) throw new CounterRuleBroken(`cannot subtract ${command.amount} from ${state.value}`);
        return [{ type: 'Added', data: { amount: -command.amount } }];
      case 'Reset':
        return [{ type: 'WasReset', data: { from: state.value } }];
      case 'Fail':
        throw new CounterRuleBroken(command.reason);
      case 'Throw':
        throw command.value;
      case 'Noop':
        return [];
    }
  },
};

const counter: AggregateType<CounterState, CounterCommand, CounterEvent> = { category: 'pcounter', decider };
const other: AggregateType<CounterState, CounterCommand, CounterEvent> = { category: 'pother', decider };
const snapshotted: AggregateType<CounterState, CounterCommand, CounterEvent> = {
  category: 'psnap',
  decider,
  snapshot: { every: 10, schemaVersion: 1 },
};

const tenantId = 'tenant-prepare';

const db = useStoreDatabase();
let repo: AggregateRepository;
beforeAll(() => {
  repo = new AggregateRepository(db.store);
});

const newId = () => randomUUID();

function request(
  type: AggregateType<CounterState, CounterCommand, CounterEvent>,
  id: string,
  commands: CounterCommand[],
  extra: Partial<PrepareRequest['options']> & { ifExists?: boolean } = {},
): PrepareRequest {
  const { ifExists, ...options } = extra;
  return { type, id, commands, options: { tenantId, ...options }, ...(ifExists === undefined ? {} : { ifExists }) };
}

/** Appends committed events to a counter stream (the state prepareAll reads). */
async function seed(type: { category: string }, id: string, amounts: number[]): Promise<void> {
  await db.store.appendToStream(
    repo.streamId(type, id),
    amounts.map((amount) => ({ type: 'Added', data: { amount } })),
    { tenantId },
  );
}

function prepared(result: PreparedGroup | Error): PreparedGroup {
  if (result instanceof Error) throw new Error(`expected a prepared group, got the error ${result.message}`);
  return result;
}

function failed(result: PreparedGroup | Error): Error {
  if (!(result instanceof Error)) throw new Error(`expected an Error, got ${JSON.stringify(result)}`);
  return result;
}

/** The appends without the event ids, to compare decisions. */
const decisions = (appends: StreamAppend[]) =>
  appends.map((a) => ({
    streamId: a.streamId,
    expectedVersion: a.expectedVersion,
    events: a.events.map((e) => ({ type: e.type, data: e.data })),
  }));

async function totalRows(): Promise<{ events: number; snapshots: number }> {
  const { rows } = await db.tdb.pool.query(
    'select (select count(*)::int from events) as events, (select count(*)::int from snapshots) as snapshots',
  );
  return rows[0];
}

async function storedData(streamId: string): Promise<unknown[]> {
  const { rows } = await db.tdb.pool.query('select data from events where stream_id = $1 order by version', [streamId]);
  return rows.map((r) => r.data);
}

describe('prepareAll: decisions', () => {
  it('decides for a new and an existing stream with the expected versions and the tenant and metadata of each request', async () => {
    const fresh = newId();
    const existing = newId();
    await seed(counter, existing, [4, 3]);

    const [group] = await repo.prepareAll([
      [
        request(counter, fresh, [{ type: 'Add', amount: 2 }], { metadata: { correlationId: 'corr-1' } }),
        request(other, existing, [{ type: 'Reset' }], { tenantId: 'tenant-b' }),
        request(counter, existing, [{ type: 'Reset' }, { type: 'Add', amount: 1 }]),
      ],
    ]);

    const { appends } = prepared(group);
    expect(decisions(appends)).toEqual([
      { streamId: `pcounter-${fresh}`, expectedVersion: -1, events: [{ type: 'Added', data: { amount: 2 } }] },
      // `other` is another category: a new stream, even with the same id.
      { streamId: `pother-${existing}`, expectedVersion: -1, events: [{ type: 'WasReset', data: { from: 0 } }] },
      {
        streamId: `pcounter-${existing}`,
        expectedVersion: 1,
        events: [
          { type: 'WasReset', data: { from: 7 } },
          { type: 'Added', data: { amount: 1 } },
        ],
      },
    ]);
    expect(appends.map((a) => [a.tenantId, a.metadata])).toEqual([
      [tenantId, { correlationId: 'corr-1' }],
      ['tenant-b', undefined],
      [tenantId, undefined],
    ]);
  });

  it('derives event ids from the command id: eventIdFor(commandId, i), the same on every prepare', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const commandId = `cmd-${randomUUID()}`;
    const groups = [[request(counter, id, [{ type: 'Add', amount: 1 }, { type: 'Reset' }, { type: 'Add', amount: 5 }], { commandId })]];

    const [first] = await prepareAll(db.store, groups);
    const [again] = await repo.prepareAll(groups);

    const ids = prepared(first).appends[0].events.map((e) => e.eventId);
    expect(ids).toEqual([eventIdFor(commandId, 0), eventIdFor(commandId, 1), eventIdFor(commandId, 2)]);
    expect(new Set(ids).size).toBe(3);
    expect(prepared(again).appends[0].events.map((e) => e.eventId)).toEqual(ids);
    // Another command id gives other ids.
    const [otherCommand] = await repo.prepareAll([[request(counter, id, [{ type: 'Add', amount: 1 }], { commandId: `${commandId}-2` })]]);
    expect(prepared(otherCommand).appends[0].events[0].eventId).toBe(eventIdFor(`${commandId}-2`, 0));
    expect(prepared(otherCommand).appends[0].events[0].eventId).not.toBe(ids[0]);
  });

  it('without a command id leaves event ids to the store', async () => {
    const [group] = await repo.prepareAll([[request(counter, newId(), [{ type: 'Add', amount: 1 }])]]);
    expect(prepared(group).appends[0].events).toEqual([{ eventId: undefined, type: 'Added', data: { amount: 1 } }]);
  });

  it('the committed appends store the prepared events, with the deterministic ids, and load to the decided state', async () => {
    const a = newId();
    const b = newId();
    await seed(counter, b, [10]);
    const commandId = `cmd-${randomUUID()}`;
    const [group] = await repo.prepareAll([
      [
        request(counter, a, [{ type: 'Add', amount: 3 }], { commandId: `${commandId}-a` }),
        request(counter, b, [{ type: 'Subtract', amount: 4 }, { type: 'Add', amount: 1 }], { commandId: `${commandId}-b` }),
      ],
    ]);

    const results = await db.store.appendToStreams(prepared(group).appends);
    expect(results.map((r) => [r.streamId, r.firstVersion, r.nextExpectedVersion])).toEqual([
      [`pcounter-${a}`, 0, 0],
      [`pcounter-${b}`, 1, 2],
    ]);
    const { rows } = await db.tdb.pool.query('select event_id from events where stream_id = $1 order by version', [`pcounter-${b}`]);
    expect(rows.map((r) => r.event_id).slice(1)).toEqual([eventIdFor(`${commandId}-b`, 0), eventIdFor(`${commandId}-b`, 1)]);
    expect(await repo.load(counter, a)).toMatchObject({ state: { value: 3, adds: 1 }, version: 0 });
    expect(await repo.load(counter, b)).toMatchObject({ state: { value: 7, adds: 3 }, version: 2 });
  });

  it('decides the same events as handleAll would', async () => {
    const viaPrepare = newId();
    const viaHandle = newId();
    await seed(counter, viaPrepare, [2, 5]);
    await seed(counter, viaHandle, [2, 5]);
    const commands: CounterCommand[] = [{ type: 'Subtract', amount: 3 }, { type: 'Reset' }, { type: 'Add', amount: 9 }];

    const [group] = await repo.prepareAll([[request(counter, viaPrepare, commands)]]);
    await db.store.appendToStreams(prepared(group).appends);
    await repo.handleAll(counter, viaHandle, commands, { tenantId });

    expect(await storedData(`pcounter-${viaPrepare}`)).toEqual(await storedData(`pcounter-${viaHandle}`));
    expect((await repo.load(counter, viaPrepare)).state).toEqual((await repo.load(counter, viaHandle)).state);
  });

  it('a request that decides no events adds no append', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const [group] = await repo.prepareAll([[request(counter, id, [{ type: 'Noop' }]), request(counter, newId(), [{ type: 'Noop' }])]]);
    expect(prepared(group).appends).toEqual([]);
  });

  it('nothing is written by prepareAll itself', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const before = await totalRows();
    const results = await repo.prepareAll([
      [request(counter, id, [{ type: 'Add', amount: 1 }]), request(counter, newId(), [{ type: 'Add', amount: 1 }])],
      [request(counter, id, [{ type: 'Reset' }])],
      [request(counter, id, [{ type: 'Fail', reason: 'no' }])],
    ]);
    expect(results.map((r) => (r instanceof Error ? 'error' : r.appends.length))).toEqual([2, 1, 'error']);
    expect(await totalRows()).toEqual(before);
    expect(await storedData(`pcounter-${id}`)).toEqual([{ amount: 1 }]);
  });

  it('an empty batch and empty groups', async () => {
    expect(await repo.prepareAll([])).toEqual([]);
    expect(await repo.prepareAll([[], []])).toEqual([{ appends: [] }, { appends: [] }]);
  });
});

describe('prepareAll: groups on the same stream', () => {
  it('two groups on one stream chain: the second decides on the state the first produced, and both commit', async () => {
    const id = newId();
    await seed(counter, id, [5]);
    const streamId = `pcounter-${id}`;

    const [g1, g2] = await repo.prepareAll([
      [request(counter, id, [{ type: 'Add', amount: 2 }, { type: 'Add', amount: 3 }], { commandId: `c1-${id}` })],
      [request(counter, id, [{ type: 'Reset' }], { commandId: `c2-${id}` })],
    ]);

    expect(decisions(prepared(g1).appends)).toEqual([
      {
        streamId,
        expectedVersion: 0,
        events: [
          { type: 'Added', data: { amount: 2 } },
          { type: 'Added', data: { amount: 3 } },
        ],
      },
    ]);
    // Decided on value 10 (5 + 2 + 3), expecting the version the first group leaves.
    expect(decisions(prepared(g2).appends)).toEqual([{ streamId, expectedVersion: 2, events: [{ type: 'WasReset', data: { from: 10 } }] }]);
    expect(prepared(g2).appends[0].events[0].eventId).toBe(eventIdFor(`c2-${id}`, 0));

    const results = await db.store.appendToStreams([...prepared(g1).appends, ...prepared(g2).appends]);
    expect(results.map((r) => [r.firstVersion, r.nextExpectedVersion])).toEqual([
      [1, 2],
      [3, 3],
    ]);
    expect(await storedData(streamId)).toEqual([{ amount: 5 }, { amount: 2 }, { amount: 3 }, { from: 10 }]);
    expect(await repo.load(counter, id)).toMatchObject({ state: { value: 0, adds: 3 }, version: 3 });
  });

  it('two groups creating one new stream chain from -1', async () => {
    const id = newId();
    const [g1, g2] = await repo.prepareAll([[request(counter, id, [{ type: 'Add', amount: 4 }])], [request(counter, id, [{ type: 'Reset' }])]]);
    expect(decisions([...prepared(g1).appends, ...prepared(g2).appends])).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: -1, events: [{ type: 'Added', data: { amount: 4 } }] },
      { streamId: `pcounter-${id}`, expectedVersion: 0, events: [{ type: 'WasReset', data: { from: 4 } }] },
    ]);
    await db.store.appendToStreams([...prepared(g1).appends, ...prepared(g2).appends]);
    expect(await storedData(`pcounter-${id}`)).toEqual([{ amount: 4 }, { from: 4 }]);
  });

  it('two requests of one group on one stream chain inside the group', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const [group] = await repo.prepareAll([
      [request(counter, id, [{ type: 'Add', amount: 6 }]), request(other, id, [{ type: 'Add', amount: 1 }]), request(counter, id, [{ type: 'Reset' }])],
    ]);
    expect(decisions(prepared(group).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: 0, events: [{ type: 'Added', data: { amount: 6 } }] },
      { streamId: `pother-${id}`, expectedVersion: -1, events: [{ type: 'Added', data: { amount: 1 } }] },
      { streamId: `pcounter-${id}`, expectedVersion: 1, events: [{ type: 'WasReset', data: { from: 7 } }] },
    ]);
    await db.store.appendToStreams(prepared(group).appends);
    expect(await storedData(`pcounter-${id}`)).toEqual([{ amount: 1 }, { amount: 6 }, { from: 7 }]);
  });

  it('a group whose decide throws returns that Error; later groups decide as if it had not happened', async () => {
    const x = newId();
    const y = newId();
    await seed(counter, x, [1]);

    const results = await repo.prepareAll([
      [request(counter, x, [{ type: 'Add', amount: 2 }])],
      // Its first request on x decides (+10), then its request on y throws: the whole group fails.
      [request(counter, x, [{ type: 'Add', amount: 10 }]), request(counter, y, [{ type: 'Fail', reason: 'y refuses' }])],
      // Decided on value 3 (1 + 2), not 13, expecting version 1, not 2.
      [request(counter, x, [{ type: 'Reset' }])],
      // y was not created by the failed group either.
      [request(counter, y, [{ type: 'Subtract', amount: 1 }])],
      [request(counter, y, [{ type: 'Add', amount: 1 }])],
    ]);

    expect(results).toHaveLength(5);
    const err = failed(results[1]);
    expect(err).toBeInstanceOf(CounterRuleBroken);
    expect(err.message).toBe('y refuses');
    expect(decisions(prepared(results[0]).appends)).toEqual([
      { streamId: `pcounter-${x}`, expectedVersion: 0, events: [{ type: 'Added', data: { amount: 2 } }] },
    ]);
    expect(decisions(prepared(results[2]).appends)).toEqual([
      { streamId: `pcounter-${x}`, expectedVersion: 1, events: [{ type: 'WasReset', data: { from: 3 } }] },
    ]);
    expect(failed(results[3]).message).toBe('cannot subtract 1 from 0');
    expect(decisions(prepared(results[4]).appends)).toEqual([
      { streamId: `pcounter-${y}`, expectedVersion: -1, events: [{ type: 'Added', data: { amount: 1 } }] },
    ]);

    const good = [results[0], results[2], results[4]].flatMap((r) => prepared(r).appends);
    await db.store.appendToStreams(good);
    expect(await storedData(`pcounter-${x}`)).toEqual([{ amount: 1 }, { amount: 2 }, { from: 3 }]);
    expect(await storedData(`pcounter-${y}`)).toEqual([{ amount: 1 }]);
  });

  it('a group failing on the second command of a request leaves no trace of the first', async () => {
    const id = newId();
    await seed(counter, id, [2]);
    const [bad, good] = await repo.prepareAll([
      [request(counter, id, [{ type: 'Add', amount: 100 }, { type: 'Subtract', amount: 500 }])],
      [request(counter, id, [{ type: 'Subtract', amount: 2 }])],
    ]);
    expect(failed(bad).message).toBe('cannot subtract 500 from 102');
    expect(decisions(prepared(good).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: 0, events: [{ type: 'Added', data: { amount: -2 } }] },
    ]);
  });

  it('a thrown non-Error becomes an Error', async () => {
    const [result] = await repo.prepareAll([[request(counter, newId(), [{ type: 'Throw', value: 'plain string' }])]]);
    const err = failed(result);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('plain string');
  });

  it('appends prepared on a stale read conflict when committed', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const [group] = await repo.prepareAll([[request(counter, id, [{ type: 'Add', amount: 1 }]), request(counter, newId(), [{ type: 'Add', amount: 1 }])]]);
    // Another writer appends between the prepare and the commit.
    await seed(counter, id, [50]);
    const err = await db.store.appendToStreams(prepared(group).appends).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventStoreError);
    expect((err as EventStoreError).code).toBe('WRONG_EXPECTED_VERSION');
    expect((err as EventStoreError).details).toMatchObject({ streamId: `pcounter-${id}`, expectedVersion: 0, actualVersion: 1 });
    expect(await storedData(`pcounter-${id}`)).toEqual([{ amount: 1 }, { amount: 50 }]);
    expect(await storedData(prepared(group).appends[1].streamId)).toEqual([]);
  });
});

describe('prepareAll: ifExists and snapshotted types', () => {
  it('ifExists on a missing stream decides nothing; on an existing stream it decides', async () => {
    const missing = newId();
    const existing = newId();
    await seed(counter, existing, [3]);

    const [onMissing, onExisting] = await repo.prepareAll([
      [request(counter, missing, [{ type: 'Reset' }], { ifExists: true })],
      [request(counter, existing, [{ type: 'Reset' }], { ifExists: true })],
    ]);
    expect(prepared(onMissing).appends).toEqual([]);
    expect(decisions(prepared(onExisting).appends)).toEqual([
      { streamId: `pcounter-${existing}`, expectedVersion: 0, events: [{ type: 'WasReset', data: { from: 3 } }] },
    ]);
  });

  it('ifExists skips only its own request, and sees a stream an earlier group created', async () => {
    const id = newId();
    const other1 = newId();
    const [g1, g2, g3] = await repo.prepareAll([
      [request(counter, id, [{ type: 'Reset' }], { ifExists: true }), request(counter, other1, [{ type: 'Add', amount: 1 }])],
      [request(counter, id, [{ type: 'Add', amount: 2 }])],
      [request(counter, id, [{ type: 'Reset' }], { ifExists: true })],
    ]);
    expect(decisions(prepared(g1).appends)).toEqual([
      { streamId: `pcounter-${other1}`, expectedVersion: -1, events: [{ type: 'Added', data: { amount: 1 } }] },
    ]);
    expect(decisions(prepared(g2).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: -1, events: [{ type: 'Added', data: { amount: 2 } }] },
    ]);
    expect(decisions(prepared(g3).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: 0, events: [{ type: 'WasReset', data: { from: 2 } }] },
    ]);
  });

  it('a snapshotted aggregate type is refused with an Error for its group only', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const results = await repo.prepareAll([
      [request(counter, id, [{ type: 'Add', amount: 1 }])],
      // The counter request before the snapshotted one is dropped with the group.
      [request(counter, id, [{ type: 'Add', amount: 50 }]), request(snapshotted, newId(), [{ type: 'Add', amount: 1 }])],
      [request(counter, id, [{ type: 'Reset' }])],
    ]);
    const err = failed(results[1]);
    expect(err.message).toContain('psnap');
    expect(err.message).toContain('snapshotted');
    expect(decisions(prepared(results[0]).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: 0, events: [{ type: 'Added', data: { amount: 1 } }] },
    ]);
    expect(decisions(prepared(results[2]).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: 1, events: [{ type: 'WasReset', data: { from: 2 } }] },
    ]);
  });

  it('a snapshotted type is refused even when its request would be skipped by ifExists', async () => {
    const [result] = await repo.prepareAll([[request(snapshotted, newId(), [{ type: 'Add', amount: 1 }], { ifExists: true })]]);
    expect(failed(result).message).toContain('snapshotted');
  });
});

describe('prepareAll: transactions and upcasters', () => {
  it('with { tx } decides on the events appended earlier in that transaction', async () => {
    const id = newId();
    await seed(counter, id, [1]);
    const streamId = `pcounter-${id}`;

    const { inside, outside } = await db.store.transaction(async (tx) => {
      await db.store.appendToStream(streamId, [{ type: 'Added', data: { amount: 4 } }], { tenantId, tx });
      const [inTx] = await repo.prepareAll([[request(counter, id, [{ type: 'Reset' }])]], { tx });
      const [notInTx] = await repo.prepareAll([[request(counter, id, [{ type: 'Reset' }])]]);
      await db.store.appendToStreams(prepared(inTx).appends, { tx });
      return { inside: prepared(inTx), outside: prepared(notInTx) };
    });

    expect(decisions(inside.appends)).toEqual([{ streamId, expectedVersion: 1, events: [{ type: 'WasReset', data: { from: 5 } }] }]);
    expect(decisions(outside.appends)).toEqual([{ streamId, expectedVersion: 0, events: [{ type: 'WasReset', data: { from: 1 } }] }]);
    expect(await storedData(streamId)).toEqual([{ amount: 1 }, { amount: 4 }, { from: 5 }]);
  });

  it('folds upcast events', async () => {
    // v1 of `Added` stored { amt }; the decider knows v2's { amount }.
    const amtToAmount: Upcaster = {
      type: 'Added',
      fromSchemaVersion: 1,
      toSchemaVersion: 2,
      upcast: (data) => ('amt' in (data as object) ? { amount: (data as { amt: number }).amt } : data),
    };
    const upcastingRepo = new AggregateRepository(new PostgresEventStore(db.tdb.pool, { upcasters: [amtToAmount] }));
    const id = newId();
    await db.store.appendToStream(
      `pcounter-${id}`,
      [
        { type: 'Added', schemaVersion: 1, data: { amt: 6 } },
        { type: 'Added', schemaVersion: 2, data: { amount: 1 } },
      ],
      { tenantId },
    );
    const [group] = await upcastingRepo.prepareAll([[request(counter, id, [{ type: 'Reset' }])]]);
    expect(decisions(prepared(group).appends)).toEqual([
      { streamId: `pcounter-${id}`, expectedVersion: 1, events: [{ type: 'WasReset', data: { from: 7 } }] },
    ]);
  });
});
