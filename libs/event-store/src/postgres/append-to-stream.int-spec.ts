import { AppendResult } from '@app/event-store';
import { describeError, event, events, newStream, rejectionOf, useStoreDatabase } from '../testing/append-fixtures';
import { openConnections } from '../testing/wait-for';

jest.setTimeout(60_000);

const tenantId = 'tenant-append';

// 50 appends race in one test: each needs its own connection.
const db = useStoreDatabase({ poolSize: 60 });
const { storedVersions, storedEventIds, countStored } = db;

describe('appendToStream: expected version', () => {
  it('no_stream appends to a new stream and conflicts once the stream exists', async () => {
    const streamId = newStream();
    const first = await db.store.appendToStream(streamId, events(2), { tenantId, expectedVersion: 'no_stream' });
    expect(first).toMatchObject({ streamId, firstVersion: 0, nextExpectedVersion: 1 });

    const err = await rejectionOf(db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'no_stream' }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toMatchObject({ streamId, expectedVersion: 'no_stream', actualVersion: 1 });
    expect(await storedVersions(streamId)).toEqual([0, 1]);
  });

  it('stream_exists conflicts on a new stream and appends once the stream exists', async () => {
    const streamId = newStream();
    const err = await rejectionOf(db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'stream_exists' }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toMatchObject({ streamId, expectedVersion: 'stream_exists', actualVersion: -1 });
    expect(await storedVersions(streamId)).toEqual([]);

    await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'no_stream' });
    const next = await db.store.appendToStream(streamId, events(2), { tenantId, expectedVersion: 'stream_exists' });
    expect(next).toMatchObject({ firstVersion: 1, nextExpectedVersion: 2 });
    expect(await storedVersions(streamId)).toEqual([0, 1, 2]);
  });

  it('an exact version appends when it is the stream version and conflicts when it is stale or ahead', async () => {
    const streamId = newStream();
    const missing = await rejectionOf(db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 0 }));
    expect(missing.code).toBe('WRONG_EXPECTED_VERSION');
    expect(missing.details).toMatchObject({ expectedVersion: 0, actualVersion: -1 });

    // -1 is the exact version of a stream without events.
    expect(await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: -1 })).toMatchObject({
      firstVersion: 0,
      nextExpectedVersion: 0,
    });
    expect(await db.store.appendToStream(streamId, events(2), { tenantId, expectedVersion: 0 })).toMatchObject({
      firstVersion: 1,
      nextExpectedVersion: 2,
    });

    const stale = await rejectionOf(db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 1 }));
    expect(stale.code).toBe('WRONG_EXPECTED_VERSION');
    expect(stale.details).toMatchObject({ streamId, expectedVersion: 1, actualVersion: 2 });

    const ahead = await rejectionOf(db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 5 }));
    expect(ahead.code).toBe('WRONG_EXPECTED_VERSION');
    expect(ahead.details).toMatchObject({ streamId, expectedVersion: 5, actualVersion: 2 });

    const noStreamAgain = await rejectionOf(db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: -1 }));
    expect(noStreamAgain.details).toMatchObject({ expectedVersion: -1, actualVersion: 2 });

    expect(await storedVersions(streamId)).toEqual([0, 1, 2]);
  });

  it('any appends at the end of a new or existing stream (and is the default)', async () => {
    const streamId = newStream();
    expect(await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'any' })).toMatchObject({
      firstVersion: 0,
      nextExpectedVersion: 0,
    });
    expect(await db.store.appendToStream(streamId, events(3), { tenantId, expectedVersion: 'any' })).toMatchObject({
      firstVersion: 1,
      nextExpectedVersion: 3,
    });
    expect(await db.store.appendToStream(streamId, events(1), { tenantId })).toMatchObject({ firstVersion: 4, nextExpectedVersion: 4 });
    expect(await storedVersions(streamId)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a conflicting batch writes none of its events', async () => {
    const streamId = newStream();
    await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'no_stream' });
    const batch = events(3, 1);

    const err = await rejectionOf(db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'no_stream' }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(await countStored(batch.map((e) => e.eventId!))).toBe(0);
    expect(await storedVersions(streamId)).toEqual([0]);
  });

  it('a batch failing on its last event writes none of the events before it', async () => {
    const other = newStream();
    const taken = event(0);
    await db.store.appendToStream(other, [taken], { tenantId });

    const streamId = newStream();
    const batch = [event(1), event(2), { ...taken, data: { n: 99 } }];
    const err = await rejectionOf(db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'no_stream' }));
    expect(err.code).toBe('DUPLICATE_EVENT_ID');
    expect(await countStored([batch[0].eventId!, batch[1].eventId!])).toBe(0);
    expect(await storedVersions(streamId)).toEqual([]);
  });

  it('versions are 0-based and gapless, and global positions increase', async () => {
    const streamId = newStream();
    const results: AppendResult[] = [];
    let expectedVersion = -1;
    for (const size of [1, 3, 2, 1, 4]) {
      const result = await db.store.appendToStream(streamId, events(size), { tenantId, expectedVersion });
      expect(result.firstVersion).toBe(expectedVersion + 1);
      expect(result.nextExpectedVersion).toBe(expectedVersion + size);
      expectedVersion = result.nextExpectedVersion;
      results.push(result);
    }
    expect(await storedVersions(streamId)).toEqual(Array.from({ length: 11 }, (_, i) => i));
    const positions = results.map((r) => r.globalPosition);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);
  });

  it('an empty batch is rejected with INVALID_APPEND', async () => {
    const err = await rejectionOf(db.store.appendToStream(newStream(), [], { tenantId }));
    expect(err.code).toBe('INVALID_APPEND');
  });
});

describe('appendToStream: concurrency', () => {
  it('of 50 concurrent appends with the same expected version exactly one wins, 49 get WRONG_EXPECTED_VERSION', async () => {
    const streamId = newStream();
    await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'no_stream' });
    const batches = Array.from({ length: 50 }, () => events(2));
    await openConnections(db.tdb.pool, 50);

    const outcomes = await Promise.allSettled(
      batches.map((batch) => db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 0 })),
    );

    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [{ i, result: o.value }] : []));
    const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    expect(won).toHaveLength(1);
    expect(won[0].result).toMatchObject({ firstVersion: 1, nextExpectedVersion: 2 });
    expect(lost.map(describeError)).toEqual(
      Array.from({ length: 49 }, () => ({
        code: 'WRONG_EXPECTED_VERSION',
        details: expect.objectContaining({ streamId, expectedVersion: 0, actualVersion: 2 }),
      })),
    );
    expect(await storedVersions(streamId)).toEqual([0, 1, 2]);
    const winner = batches[won[0].i];
    expect((await storedEventIds(streamId)).slice(1)).toEqual(winner.map((e) => e.eventId));
  });

  it('50 concurrent appends with any all land once each, on gapless versions', async () => {
    const streamId = newStream();
    const batch = events(50);
    await openConnections(db.tdb.pool, 50);

    const outcomes = await Promise.allSettled(batch.map((e) => db.store.appendToStream(streamId, [e], { tenantId, expectedVersion: 'any' })));

    expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [describeError(o.reason)] : []))).toEqual([]);
    expect(await storedVersions(streamId)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new Set(await storedEventIds(streamId))).toEqual(new Set(batch.map((e) => e.eventId)));
  });
});

describe('appendToStream: idempotency', () => {
  it('re-appending the same events with the same exact version writes nothing and returns the first result', async () => {
    const streamId = newStream();
    await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'no_stream' });
    const batch = events(2, 1);

    const first = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 0 });
    const again = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 0 });

    expect(first).toMatchObject({ firstVersion: 1, nextExpectedVersion: 2 });
    expect(again).toEqual(first);
    expect(await storedVersions(streamId)).toEqual([0, 1, 2]);
  });

  it('re-appending the same events with any writes nothing and returns the first result, even after later appends', async () => {
    const streamId = newStream();
    const batch = events(3);

    const first = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'any' });
    const again = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'any' });
    expect(again).toEqual(first);

    await db.store.appendToStream(streamId, events(1, 3), { tenantId });
    const later = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'any' });
    expect(later).toEqual(first);
    expect(await storedVersions(streamId)).toEqual([0, 1, 2, 3]);
  });

  it('re-appending the same events with no_stream writes nothing and returns the first result', async () => {
    const streamId = newStream();
    const batch = events(2);

    const first = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'no_stream' });
    const again = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'no_stream' });

    expect(again).toEqual(first);
    expect(await storedVersions(streamId)).toEqual([0, 1]);
  });

  it('reusing an event id for different data is DUPLICATE_EVENT_ID and changes nothing', async () => {
    const streamId = newStream();
    const original = event(1);
    await db.store.appendToStream(streamId, [original], { tenantId, expectedVersion: 'no_stream' });
    const changed = { ...original, data: { n: 2 } };

    for (const expectedVersion of ['any', 'no_stream', 0, -1] as const) {
      const err = await rejectionOf(db.store.appendToStream(streamId, [changed], { tenantId, expectedVersion }));
      expect(err.code).toBe('DUPLICATE_EVENT_ID');
      expect(err.details).toMatchObject({ eventId: original.eventId });
    }
    const { rows } = await db.tdb.pool.query('select data from events where stream_id = $1', [streamId]);
    expect(rows).toEqual([{ data: { n: 1 } }]);
  });

  it('reusing an event id in another stream is DUPLICATE_EVENT_ID', async () => {
    const original = event(1);
    const streamId = newStream();
    await db.store.appendToStream(streamId, [original], { tenantId });

    const err = await rejectionOf(db.store.appendToStream(newStream(), [original], { tenantId }));
    expect(err.code).toBe('DUPLICATE_EVENT_ID');
    expect(err.details).toMatchObject({ eventId: original.eventId, streamId });
  });

  it('inside a transaction a replay returns the first result and the transaction stays usable', async () => {
    const streamId = newStream();
    await db.store.appendToStream(streamId, events(1), { tenantId, expectedVersion: 'no_stream' });
    const batch = events(2, 1);
    const first = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 0 });
    const tail = event(3);

    const inTx = await db.store.transaction(async (tx) => {
      const exact = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 0, tx });
      const any = await db.store.appendToStream(streamId, batch, { tenantId, expectedVersion: 'any', tx });
      // The transaction is still usable after the replays: a real append commits with them.
      const next = await db.store.appendToStream(streamId, [tail], { tenantId, expectedVersion: exact.nextExpectedVersion, tx });
      // And a replay of an event appended earlier in the same, still open, transaction.
      const nextAgain = await db.store.appendToStream(streamId, [tail], { tenantId, expectedVersion: 'any', tx });
      return { exact, any, next, nextAgain };
    });

    expect(inTx.exact).toEqual(first);
    expect(inTx.any).toEqual(first);
    expect(inTx.next).toMatchObject({ firstVersion: 3, nextExpectedVersion: 3 });
    expect(inTx.nextAgain).toEqual(inTx.next);
    expect(await storedEventIds(streamId)).toHaveLength(4);
    expect((await storedEventIds(streamId))[3]).toBe(tail.eventId);
  });

  it('inside a transaction a rejected duplicate leaves the transaction usable', async () => {
    const streamId = newStream();
    const original = event(1);
    await db.store.appendToStream(streamId, [original], { tenantId, expectedVersion: 'no_stream' });
    const next = event(2);

    const code = await db.store.transaction(async (tx) => {
      const err = await rejectionOf(db.store.appendToStream(streamId, [{ ...original, data: { n: 7 } }], { tenantId, tx }));
      await db.store.appendToStream(streamId, [next], { tenantId, expectedVersion: 0, tx });
      return err.code;
    });

    expect(code).toBe('DUPLICATE_EVENT_ID');
    expect(await storedEventIds(streamId)).toEqual([original.eventId, next.eventId]);
  });
});
