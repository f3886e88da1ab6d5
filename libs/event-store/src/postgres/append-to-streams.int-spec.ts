import { randomUUID } from 'crypto';
import { NewEvent, PostgresEventStore, StreamAppend } from '@app/event-store';
import { describeError, event, events, newStream, rejectionOf, splitNameUpcaster, useStoreDatabase } from '../testing/append-fixtures';
import { openConnections, waitUntilReadable } from '../testing/wait-for';

jest.setTimeout(60_000);

const tenantId = 'tenant-multi';

// 20 multi-appends race in one test: each needs its own connection.
const db = useStoreDatabase({ poolSize: 30 });
const { storedVersions, storedEventIds, countStored } = db;
const idsOf = (list: NewEvent[]) => list.map((e) => e.eventId!);

async function countInStreams(streamIds: string[]): Promise<number> {
  const { rows } = await db.tdb.pool.query('select count(*)::int as n from events where stream_id = any($1::text[])', [streamIds]);
  return rows[0].n;
}

async function totalEvents(): Promise<number> {
  const { rows } = await db.tdb.pool.query('select count(*)::int as n from events');
  return rows[0].n;
}

function expectStrictlyIncreasing(values: number[]): void {
  values.slice(1).forEach((v, i) => expect(v).toBeGreaterThan(values[i]));
}

describe('appendToStreams: several streams in one call', () => {
  it('appends to several new streams: results in input order, events stored with versions, data and metadata', async () => {
    const a = newStream('order');
    const b = newStream('invoice');
    const c = newStream('order');
    const aEvents = events(2);
    const bEvents = [{ ...event(10), type: 'InvoiceIssued', schemaVersion: 2, metadata: { actor: 'bob' } }];
    const cEvents = events(3, 20);

    const results = await db.store.appendToStreams([
      { streamId: a, tenantId, expectedVersion: 'no_stream', events: aEvents, metadata: { correlationId: 'corr-a' } },
      { streamId: b, tenantId: 'tenant-other', expectedVersion: -1, events: bEvents },
      { streamId: c, tenantId, events: cEvents },
    ]);

    expect(results.map(({ streamId, firstVersion, nextExpectedVersion }) => ({ streamId, firstVersion, nextExpectedVersion }))).toEqual([
      { streamId: a, firstVersion: 0, nextExpectedVersion: 1 },
      { streamId: b, firstVersion: 0, nextExpectedVersion: 0 },
      { streamId: c, firstVersion: 0, nextExpectedVersion: 2 },
    ]);
    results.forEach((r) => expect(typeof r.globalPosition).toBe('number'));
    // The results' positions are those of each entry's last event.
    expectStrictlyIncreasing(results.map((r) => r.globalPosition));

    const ra = await db.store.readStream(a);
    const rb = await db.store.readStream(b);
    const rc = await db.store.readStream(c);
    expect(ra.version).toBe(1);
    expect(rb.version).toBe(0);
    expect(rc.version).toBe(2);
    expect(ra.events.map((e) => ({ eventId: e.eventId, version: e.version, type: e.type, data: e.data }))).toEqual([
      { eventId: aEvents[0].eventId, version: 0, type: 'ThingHappened', data: { n: 0 } },
      { eventId: aEvents[1].eventId, version: 1, type: 'ThingHappened', data: { n: 1 } },
    ]);
    expect(ra.events.map((e) => e.metadata)).toEqual([
      { tenantId, correlationId: 'corr-a' },
      { tenantId, correlationId: 'corr-a' },
    ]);
    expect(rb.events).toHaveLength(1);
    expect(rb.events[0]).toMatchObject({
      eventId: bEvents[0].eventId,
      streamId: b,
      version: 0,
      type: 'InvoiceIssued',
      schemaVersion: 2,
      data: { n: 10 },
      metadata: { tenantId: 'tenant-other', actor: 'bob' },
      globalPosition: results[1].globalPosition,
    });
    expect(rc.events.map((e) => [e.version, e.data])).toEqual([
      [0, { n: 20 }],
      [1, { n: 21 }],
      [2, { n: 22 }],
    ]);
    expect(rc.events.map((e) => e.metadata)).toEqual([{ tenantId }, { tenantId }, { tenantId }]);

    // Global positions strictly increase in entry order, event after event.
    const positions = [...ra.events, ...rb.events, ...rc.events].map((e) => e.globalPosition);
    expect(positions).toHaveLength(6);
    expectStrictlyIncreasing(positions);
    expect(ra.events[1].globalPosition).toBe(results[0].globalPosition);
    expect(rc.events[2].globalPosition).toBe(results[2].globalPosition);

    // The tenant column follows each entry's tenant.
    const { rows } = await db.tdb.pool.query('select distinct stream_id, tenant_id from events where stream_id = any($1::text[])', [[a, b, c]]);
    expect(new Map(rows.map((r) => [r.stream_id, r.tenant_id]))).toEqual(
      new Map([
        [a, tenantId],
        [b, 'tenant-other'],
        [c, tenantId],
      ]),
    );
  });

  it('appends to existing streams with each entry checking its own expected version', async () => {
    const a = newStream();
    const b = newStream();
    const c = newStream();
    await db.store.appendToStream(a, events(3), { tenantId });
    await db.store.appendToStream(b, events(1), { tenantId });

    const results = await db.store.appendToStreams([
      { streamId: a, tenantId, expectedVersion: 2, events: events(2) },
      { streamId: b, tenantId, expectedVersion: 'stream_exists', events: events(1) },
      { streamId: c, tenantId, expectedVersion: 'no_stream', events: events(1) },
      { streamId: a, tenantId, expectedVersion: 'any', events: events(1) },
    ]);

    expect(results.map(({ streamId, firstVersion, nextExpectedVersion }) => ({ streamId, firstVersion, nextExpectedVersion }))).toEqual([
      { streamId: a, firstVersion: 3, nextExpectedVersion: 4 },
      { streamId: b, firstVersion: 1, nextExpectedVersion: 1 },
      { streamId: c, firstVersion: 0, nextExpectedVersion: 0 },
      { streamId: a, firstVersion: 5, nextExpectedVersion: 5 },
    ]);
    expect(await storedVersions(a)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await storedVersions(b)).toEqual([0, 1]);
    expect(await storedVersions(c)).toEqual([0]);
  });

  it('two entries for the same stream chain: the second expects the version the first leaves', async () => {
    const streamId = newStream();
    const other = newStream();
    await db.store.appendToStream(streamId, events(1), { tenantId });
    const first = events(2, 1);
    const second = events(3, 3);

    const results = await db.store.appendToStreams([
      { streamId, tenantId, expectedVersion: 0, events: first },
      { streamId: other, tenantId, expectedVersion: 'no_stream', events: events(1) },
      { streamId, tenantId, expectedVersion: 2, events: second },
    ]);

    expect(results[0]).toMatchObject({ streamId, firstVersion: 1, nextExpectedVersion: 2 });
    expect(results[1]).toMatchObject({ streamId: other, firstVersion: 0, nextExpectedVersion: 0 });
    expect(results[2]).toMatchObject({ streamId, firstVersion: 3, nextExpectedVersion: 5 });
    expect(await storedVersions(streamId)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await storedEventIds(streamId)).slice(1)).toEqual([...idsOf(first), ...idsOf(second)]);
    const read = await db.store.readStream(streamId);
    expect(read.events.slice(1).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    expectStrictlyIncreasing(read.events.map((e) => e.globalPosition));
  });

  it('two entries for one new stream chain from no_stream to its first version', async () => {
    const streamId = newStream();
    const results = await db.store.appendToStreams([
      { streamId, tenantId, expectedVersion: 'no_stream', events: events(1) },
      { streamId, tenantId, expectedVersion: 0, events: events(1, 1) },
      { streamId, tenantId, expectedVersion: 'stream_exists', events: events(1, 2) },
    ]);
    expect(results.map((r) => [r.firstVersion, r.nextExpectedVersion])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect((await db.store.readStream(streamId)).events.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });

  it('an empty appends array returns [] and writes nothing', async () => {
    const before = await totalEvents();
    expect(await db.store.appendToStreams([])).toEqual([]);
    expect(await totalEvents()).toBe(before);
  });

  it('reports each entry to onAppended with its own event count', async () => {
    const seen: [string, number][] = [];
    const observed = new PostgresEventStore(db.tdb.pool, { onAppended: (r, count) => seen.push([r.streamId, count]) });
    const a = newStream();
    const b = newStream();
    await observed.appendToStreams([
      { streamId: a, tenantId, events: events(2) },
      { streamId: b, tenantId, events: events(3) },
    ]);
    expect(seen).toEqual([
      [a, 2],
      [b, 3],
    ]);
  });

  it('alongside: run inside a statement with writes of the caller, results are reported to onAppended and errors mapped', async () => {
    const seen: [string, number][] = [];
    const observed = new PostgresEventStore(db.tdb.pool, { onAppended: (r, count) => seen.push([r.streamId, count]) });
    await db.tdb.pool.query('create table if not exists caller_marks (stream_id text, entries int)');
    const marks = async (streamId: string) =>
      (await db.tdb.pool.query('select entries from caller_marks where stream_id = $1', [streamId])).rows.map((r) => r.entries);
    // The caller's own write, in the same statement: it reads the append's rows.
    const alongside = (streamId: string) => ({
      name: 'test_caller_marks',
      ctes: 'marked as (insert into caller_marks select $1, count(*) from appended)',
      values: [streamId],
    });
    const a = newStream();
    const results = await observed.appendToStreams([{ streamId: a, tenantId, expectedVersion: 'no_stream', events: events(2) }], {
      alongside: alongside(a),
    });
    expect(results).toEqual([expect.objectContaining({ streamId: a, firstVersion: 0, nextExpectedVersion: 1 })]);
    expect(seen).toEqual([[a, 2]]);
    expect(await storedVersions(a)).toEqual([0, 1]);
    expect(await marks(a)).toEqual([1]);

    const failure = await observed
      .appendToStreams([{ streamId: a, tenantId, expectedVersion: 'no_stream', events: events(1) }], { alongside: alongside(a) })
      .catch((err) => err);
    expect(describeError(failure)).toEqual({
      code: 'WRONG_EXPECTED_VERSION',
      details: expect.objectContaining({ streamId: a, expectedVersion: 'no_stream', actualVersion: 1 }),
    });
    expect(await marks(a)).toEqual([1]);
  });
});

describe('appendToStreams: all or nothing', () => {
  /** Two good entries (one new stream, one existing stream), then `last`; returns what to check. */
  async function failingLast(last: (existing: string) => StreamAppend) {
    const fresh = newStream();
    const existing = newStream();
    await db.store.appendToStream(existing, events(3), { tenantId });
    const freshEvents = events(2);
    const existingEvents = events(1, 3);
    const lastEntry = last(existing);
    const before = await totalEvents();
    const err = await rejectionOf(
      db.store.appendToStreams([
        { streamId: fresh, tenantId, expectedVersion: 'no_stream', events: freshEvents },
        { streamId: existing, tenantId, expectedVersion: 2, events: existingEvents },
        lastEntry,
      ]),
    );
    expect(await countStored([...idsOf(freshEvents), ...idsOf(existingEvents), ...idsOf(lastEntry.events)])).toBe(0);
    expect(await storedVersions(fresh)).toEqual([]);
    expect(await storedVersions(existing)).toEqual([0, 1, 2]);
    expect(await totalEvents()).toBe(before);
    return { err, existing };
  }

  it('a wrong exact version in the last entry throws WRONG_EXPECTED_VERSION and writes nothing', async () => {
    const target = newStream();
    await db.store.appendToStream(target, events(2), { tenantId });
    const { err } = await failingLast(() => ({ streamId: target, tenantId, expectedVersion: 0, events: events(1) }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toEqual({ streamId: target, expectedVersion: 0, actualVersion: 1 });
    expect(await storedVersions(target)).toEqual([0, 1]);
  });

  it('an exact version ahead of the stream in the last entry throws WRONG_EXPECTED_VERSION and writes nothing', async () => {
    const target = newStream();
    await db.store.appendToStream(target, events(2), { tenantId });
    const { err } = await failingLast(() => ({ streamId: target, tenantId, expectedVersion: 7, events: events(1) }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toEqual({ streamId: target, expectedVersion: 7, actualVersion: 1 });
  });

  it('an exact version on a missing stream in the last entry reports actual version -1', async () => {
    const target = newStream();
    const { err } = await failingLast(() => ({ streamId: target, tenantId, expectedVersion: 0, events: events(1) }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toEqual({ streamId: target, expectedVersion: 0, actualVersion: -1 });
    expect(await storedVersions(target)).toEqual([]);
  });

  it('no_stream on an existing stream in the last entry throws WRONG_EXPECTED_VERSION and writes nothing', async () => {
    const target = newStream();
    await db.store.appendToStream(target, events(4), { tenantId });
    const { err } = await failingLast(() => ({ streamId: target, tenantId, expectedVersion: 'no_stream', events: events(1) }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toEqual({ streamId: target, expectedVersion: 'no_stream', actualVersion: 3 });
    expect(err.message).toContain(target);
    expect(await storedVersions(target)).toEqual([0, 1, 2, 3]);
  });

  it('stream_exists on a missing stream in the last entry throws WRONG_EXPECTED_VERSION and writes nothing', async () => {
    const target = newStream();
    const { err } = await failingLast(() => ({ streamId: target, tenantId, expectedVersion: 'stream_exists', events: events(1) }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toEqual({ streamId: target, expectedVersion: 'stream_exists', actualVersion: -1 });
    expect(await storedVersions(target)).toEqual([]);
  });

  it('a conflict on a stream an earlier entry of the call appended to names that stream and writes nothing', async () => {
    // The second entry on `existing` expects the version before the first entry's events.
    const { err, existing } = await failingLast((s) => ({ streamId: s, tenantId, expectedVersion: 2, events: events(1) }));
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toMatchObject({ streamId: existing, expectedVersion: 2 });
  });

  it('a conflict in the first entry names the first entry stream and writes nothing of the later ones', async () => {
    const target = newStream();
    await db.store.appendToStream(target, events(1), { tenantId });
    const later = newStream();
    const laterEvents = events(2);
    const err = await rejectionOf(
      db.store.appendToStreams([
        { streamId: target, tenantId, expectedVersion: 'no_stream', events: events(1) },
        { streamId: later, tenantId, expectedVersion: 'no_stream', events: laterEvents },
      ]),
    );
    expect(err.details).toEqual({ streamId: target, expectedVersion: 'no_stream', actualVersion: 0 });
    expect(await countStored(idsOf(laterEvents))).toBe(0);
    expect(await storedVersions(target)).toEqual([0]);
  });
});

describe('appendToStreams: invalid input and duplicate event ids', () => {
  it('an event id already stored is DUPLICATE_EVENT_ID and nothing of the call is written', async () => {
    const original = event(1);
    const owner = newStream();
    await db.store.appendToStream(owner, [original], { tenantId });
    const a = newStream();
    const b = newStream();
    const aEvents = events(2);
    const before = await totalEvents();

    const err = await rejectionOf(
      db.store.appendToStreams([
        { streamId: a, tenantId, events: aEvents },
        { streamId: b, tenantId, events: [event(5), { ...original, data: { n: 99 } }] },
      ]),
    );
    expect(err.code).toBe('DUPLICATE_EVENT_ID');
    expect(String(err.details.detail)).toContain(original.eventId);
    expect(await countStored(idsOf(aEvents))).toBe(0);
    expect(await countInStreams([a, b])).toBe(0);
    expect(await totalEvents()).toBe(before);
    // The stored event is untouched.
    expect((await db.store.readStream(owner)).events.map((e) => e.data)).toEqual([{ n: 1 }]);
  });

  it('an exact re-send of an already stored append is not a replay: DUPLICATE_EVENT_ID with any, WRONG_EXPECTED_VERSION with its version', async () => {
    const streamId = newStream();
    const batch = events(2);
    await db.store.appendToStreams([{ streamId, tenantId, expectedVersion: 'no_stream', events: batch }]);

    const withAny = await rejectionOf(db.store.appendToStreams([{ streamId, tenantId, events: batch }]));
    expect(withAny.code).toBe('DUPLICATE_EVENT_ID');
    const withVersion = await rejectionOf(db.store.appendToStreams([{ streamId, tenantId, expectedVersion: 'no_stream', events: batch }]));
    expect(withVersion.code).toBe('WRONG_EXPECTED_VERSION');
    expect(withVersion.details).toEqual({ streamId, expectedVersion: 'no_stream', actualVersion: 1 });
    expect(await storedEventIds(streamId)).toEqual(idsOf(batch));
  });

  it('the same event id twice in one call is INVALID_APPEND, within an entry or across entries', async () => {
    const a = newStream();
    const b = newStream();
    const dup = randomUUID();
    const within = await rejectionOf(db.store.appendToStreams([{ streamId: a, tenantId, events: [event(1, dup), event(2, dup)] }]));
    expect(within.code).toBe('INVALID_APPEND');
    const across = await rejectionOf(
      db.store.appendToStreams([
        { streamId: a, tenantId, events: [event(1, dup)] },
        { streamId: b, tenantId, events: [event(2, dup)] },
      ]),
    );
    expect(across.code).toBe('INVALID_APPEND');
    expect(across.message).toContain(dup);
    expect(await countInStreams([a, b])).toBe(0);
  });

  it('an entry with no events is INVALID_APPEND and nothing is written', async () => {
    const a = newStream();
    const b = newStream();
    const err = await rejectionOf(
      db.store.appendToStreams([
        { streamId: a, tenantId, events: events(1) },
        { streamId: b, tenantId, events: [] },
      ]),
    );
    expect(err.code).toBe('INVALID_APPEND');
    expect(await countInStreams([a, b])).toBe(0);
  });

  it('an event without a type or an unknown expected version is INVALID_APPEND', async () => {
    const a = newStream();
    const noType = await rejectionOf(db.store.appendToStreams([{ streamId: a, tenantId, events: [{ type: '', data: {} }] }]));
    expect(noType.code).toBe('INVALID_APPEND');
    const badExpected = await rejectionOf(
      db.store.appendToStreams([{ streamId: a, tenantId, expectedVersion: 'whatever' as never, events: events(1) }]),
    );
    expect(badExpected.code).toBe('INVALID_APPEND');
    expect(await countInStreams([a])).toBe(0);
  });

  it('more than 1000 events in one entry is INVALID_APPEND', async () => {
    const a = newStream();
    const err = await rejectionOf(db.store.appendToStreams([{ streamId: a, tenantId, events: events(1001) }]));
    expect(err.code).toBe('INVALID_APPEND');
    expect(await countInStreams([a])).toBe(0);
  });

  it('events without ids get generated, distinct ids', async () => {
    const a = newStream();
    const b = newStream();
    await db.store.appendToStreams([
      { streamId: a, tenantId, events: [{ type: 'T', data: { n: 1 } }, { type: 'T', data: { n: 2 } }] },
      { streamId: b, tenantId, events: [{ type: 'T', data: { n: 3 } }] },
    ]);
    const ids = [...(await storedEventIds(a)), ...(await storedEventIds(b))];
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
  });
});

describe('appendToStreams: inside a transaction', () => {
  it('commits with the transaction, and reads inside it see the appends before the commit', async () => {
    const a = newStream();
    const b = newStream();
    const aEvents = events(2);
    const bEvents = events(1);

    const results = await db.store.transaction(async (tx) => {
      const r = await db.store.appendToStreams(
        [
          { streamId: a, tenantId, expectedVersion: 'no_stream', events: aEvents },
          { streamId: b, tenantId, expectedVersion: 'no_stream', events: bEvents },
        ],
        { tx },
      );
      // Not visible outside before the commit.
      expect(await countInStreams([a, b])).toBe(0);
      const inside = await db.store.readStreams([a, b], { tx });
      expect(inside.get(a)?.map((e) => e.eventId)).toEqual(idsOf(aEvents));
      expect(inside.get(b)?.map((e) => e.eventId)).toEqual(idsOf(bEvents));
      return r;
    });

    expect(results.map((r) => [r.streamId, r.nextExpectedVersion])).toEqual([
      [a, 1],
      [b, 0],
    ]);
    expect(await storedEventIds(a)).toEqual(idsOf(aEvents));
    expect(await storedEventIds(b)).toEqual(idsOf(bEvents));
  });

  it('rolls back with the transaction', async () => {
    const a = newStream();
    const b = newStream();
    await expect(
      db.store.transaction(async (tx) => {
        await db.store.appendToStreams(
          [
            { streamId: a, tenantId, events: events(2) },
            { streamId: b, tenantId, events: events(1) },
          ],
          { tx },
        );
        throw new Error('caller gives up');
      }),
    ).rejects.toThrow('caller gives up');
    expect(await countInStreams([a, b])).toBe(0);
  });

  it('a conflict inside a transaction rolls back everything the transaction appended', async () => {
    const single = newStream();
    const a = newStream();
    const taken = newStream();
    await db.store.appendToStream(taken, events(1), { tenantId });

    const err = await rejectionOf(
      db.store.transaction(async (tx) => {
        await db.store.appendToStream(single, events(1), { tenantId, tx });
        return db.store.appendToStreams(
          [
            { streamId: a, tenantId, events: events(1) },
            { streamId: taken, tenantId, expectedVersion: 'no_stream', events: events(1) },
          ],
          { tx },
        );
      }),
    );
    expect(err.code).toBe('WRONG_EXPECTED_VERSION');
    expect(err.details).toEqual({ streamId: taken, expectedVersion: 'no_stream', actualVersion: 0 });
    expect(await countInStreams([single, a])).toBe(0);
    expect(await storedVersions(taken)).toEqual([0]);
  });

  it('sees the versions appendToStream left earlier in the same transaction', async () => {
    const streamId = newStream();
    const results = await db.store.transaction(async (tx) => {
      await db.store.appendToStream(streamId, events(2), { tenantId, expectedVersion: 'no_stream', tx });
      return db.store.appendToStreams([{ streamId, tenantId, expectedVersion: 1, events: events(1, 2) }], { tx });
    });
    expect(results[0]).toMatchObject({ firstVersion: 2, nextExpectedVersion: 2 });
    expect(await storedVersions(streamId)).toEqual([0, 1, 2]);
  });

  it('mixing appendToStream and appendToStreams in one transaction gives distinct, increasing global positions', async () => {
    const s1 = newStream();
    const s2 = newStream();
    const s3 = newStream();
    const s4 = newStream();
    const s5 = newStream();
    const order: string[] = [];
    await db.store.transaction(async (tx) => {
      const e1 = events(2);
      await db.store.appendToStream(s1, e1, { tenantId, tx });
      order.push(...idsOf(e1));
      const e2 = events(1);
      const e3 = events(3);
      await db.store.appendToStreams(
        [
          { streamId: s2, tenantId, events: e2 },
          { streamId: s3, tenantId, events: e3 },
        ],
        { tx },
      );
      order.push(...idsOf(e2), ...idsOf(e3));
      const e4 = events(1);
      await db.store.appendToStream(s4, e4, { tenantId, tx });
      order.push(...idsOf(e4));
      const e5 = events(2);
      const e1b = events(1);
      await db.store.appendToStreams(
        [
          { streamId: s5, tenantId, events: e5 },
          { streamId: s1, tenantId, expectedVersion: 1, events: e1b },
        ],
        { tx },
      );
      order.push(...idsOf(e5), ...idsOf(e1b));
    });

    const { rows } = await db.tdb.pool.query<{ event_id: string; global_position: number }>(
      'select event_id, global_position from events where stream_id = any($1::text[]) order by global_position',
      [[s1, s2, s3, s4, s5]],
    );
    expect(rows.map((r) => r.event_id)).toEqual(order);
    const positions = rows.map((r) => r.global_position);
    expect(new Set(positions).size).toBe(10);
    expectStrictlyIncreasing(positions);
    // One transaction: one xid, consecutive sequence numbers.
    expect(positions[positions.length - 1] - positions[0]).toBe(9);
  });

  it('a transaction appending after another committed one gets higher positions', async () => {
    const s1 = newStream();
    const s2 = newStream();
    const [r1] = await db.store.appendToStreams([{ streamId: s1, tenantId, events: events(1) }]);
    const [r2] = await db.store.transaction((tx) => db.store.appendToStreams([{ streamId: s2, tenantId, events: events(1) }], { tx }));
    expect(r2.globalPosition).toBeGreaterThan(r1.globalPosition);
  });
});

describe('appendToStreams: concurrency', () => {
  it('of 20 concurrent calls with the same expected version on a shared stream exactly one wins; losers write nothing', async () => {
    const shared = newStream('shared');
    await db.store.appendToStream(shared, events(2), { tenantId, expectedVersion: 'no_stream' });
    const calls = Array.from({ length: 20 }, () => ({
      privateStream: newStream('private'),
      privateEvents: events(2),
      sharedEvents: events(1),
    }));
    await openConnections(db.tdb.pool, 20);

    const outcomes = await Promise.allSettled(
      calls.map((c) =>
        db.store.appendToStreams([
          // The private stream first: a loser has already inserted its events when it conflicts.
          { streamId: c.privateStream, tenantId, expectedVersion: 'no_stream', events: c.privateEvents },
          { streamId: shared, tenantId, expectedVersion: 1, events: c.sharedEvents },
        ]),
      ),
    );

    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [{ i, results: o.value }] : []));
    const lost = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ i, reason: o.reason as unknown }] : []));
    expect(won).toHaveLength(1);
    const winner = calls[won[0].i];
    expect(won[0].results).toEqual([
      expect.objectContaining({ streamId: winner.privateStream, firstVersion: 0, nextExpectedVersion: 1 }),
      expect.objectContaining({ streamId: shared, firstVersion: 2, nextExpectedVersion: 2 }),
    ]);
    expect(lost.map((l) => describeError(l.reason))).toEqual(
      Array.from({ length: 19 }, () => ({
        code: 'WRONG_EXPECTED_VERSION',
        // A loser that collided with the winner's insert runs again and sees the version that won.
        details: expect.objectContaining({ streamId: shared, expectedVersion: 1, actualVersion: 2 }),
      })),
    );

    expect(await storedVersions(shared)).toEqual([0, 1, 2]);
    expect((await storedEventIds(shared))[2]).toBe(winner.sharedEvents[0].eventId);
    expect(await storedEventIds(winner.privateStream)).toEqual(idsOf(winner.privateEvents));
    const loserStreams = lost.map((l) => calls[l.i].privateStream);
    expect(loserStreams).toHaveLength(19);
    expect(await countInStreams(loserStreams)).toBe(0);
    expect(await countStored(lost.flatMap((l) => [...idsOf(calls[l.i].privateEvents), ...idsOf(calls[l.i].sharedEvents)]))).toBe(0);
  });

  it('20 concurrent calls appending with `any` to one stream all succeed, with gapless versions; no pooled connection is lost', async () => {
    const shared = newStream('any');
    await db.store.appendToStream(shared, events(1), { tenantId, expectedVersion: 'no_stream' });
    await openConnections(db.tdb.pool, 20);
    const before = db.tdb.pool.totalCount;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => db.store.appendToStreams([{ streamId: shared, tenantId, expectedVersion: 'any', events: events(1) }])),
    );
    expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [describeError(o.reason)] : []))).toEqual([]);
    expect(await storedVersions(shared)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(db.tdb.pool.totalCount).toBeGreaterThanOrEqual(before); // (a wake-up NOTIFY may open one more)
  });

  it('concurrent calls on disjoint streams all succeed', async () => {
    const calls = Array.from({ length: 10 }, () => [newStream(), newStream()]);
    await openConnections(db.tdb.pool, 10);
    const outcomes = await Promise.allSettled(
      calls.map(([a, b]) =>
        db.store.appendToStreams([
          { streamId: a, tenantId, expectedVersion: 'no_stream', events: events(1) },
          { streamId: b, tenantId, expectedVersion: 'no_stream', events: events(2) },
        ]),
      ),
    );
    expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [describeError(o.reason)] : []))).toEqual([]);
    expect(await countInStreams(calls.flat())).toBe(30);
  });
});

describe('appendToStreams and readAll', () => {
  it('readAll returns the events of a multi-append in position order, entry after entry', async () => {
    const head = await db.store.headPosition();
    const a = newStream('order');
    const b = newStream('invoice');
    const aEvents = events(2);
    const bEvents = events(3);
    const aMore = events(1, 2);
    const results = await db.store.appendToStreams([
      { streamId: a, tenantId, events: aEvents },
      { streamId: b, tenantId: 'tenant-readall', events: bEvents },
      { streamId: a, tenantId, expectedVersion: 1, events: aMore },
    ]);
    await waitUntilReadable(db.store, results[2].globalPosition);

    const { events: read, lastPosition } = await db.store.readAll({ after: head });
    expect(read.map((e) => e.eventId)).toEqual([...idsOf(aEvents), ...idsOf(bEvents), ...idsOf(aMore)]);
    expect(read.map((e) => [e.streamId, e.version])).toEqual([
      [a, 0],
      [a, 1],
      [b, 0],
      [b, 1],
      [b, 2],
      [a, 2],
    ]);
    expectStrictlyIncreasing(read.map((e) => e.globalPosition));
    expect(lastPosition).toBe(results[2].globalPosition);
    expect(read[4].globalPosition).toBe(results[1].globalPosition);

    // Filters apply to the multi-append's events like to any others.
    expect((await db.store.readAll({ after: head, category: 'invoice' })).events.map((e) => e.eventId)).toEqual(idsOf(bEvents));
    expect((await db.store.readAll({ after: head, tenantId: 'tenant-readall' })).events.map((e) => e.eventId)).toEqual(idsOf(bEvents));
  });
});

describe('readStreams', () => {
  it('reads several streams in one call, each in version order; missing streams are absent', async () => {
    const a = newStream();
    const b = newStream();
    const missing = newStream();
    // Interleaved appends: per-stream order is by version, not by position.
    await db.store.appendToStream(a, events(2), { tenantId });
    await db.store.appendToStream(b, events(1, 10), { tenantId });
    await db.store.appendToStream(a, events(1, 2), { tenantId });
    await db.store.appendToStreams([
      { streamId: b, tenantId, events: events(2, 11) },
      { streamId: a, tenantId, events: events(1, 3) },
    ]);

    const read = await db.store.readStreams([b, missing, a]);
    expect([...read.keys()].sort()).toEqual([a, b].sort());
    expect(read.has(missing)).toBe(false);
    expect(read.get(a)!.map((e) => [e.version, e.data])).toEqual([
      [0, { n: 0 }],
      [1, { n: 1 }],
      [2, { n: 2 }],
      [3, { n: 3 }],
    ]);
    expect(read.get(b)!.map((e) => [e.version, e.data])).toEqual([
      [0, { n: 10 }],
      [1, { n: 11 }],
      [2, { n: 12 }],
    ]);
    // Same events, same fields as readStream.
    expect(read.get(a)).toEqual((await db.store.readStream(a)).events);
    expect(read.get(b)).toEqual((await db.store.readStream(b)).events);
  });

  it('duplicate ids in the input read each stream once', async () => {
    const a = newStream();
    const b = newStream();
    await db.store.appendToStreams([
      { streamId: a, tenantId, events: events(2) },
      { streamId: b, tenantId, events: events(1) },
    ]);
    const read = await db.store.readStreams([a, a, b, a]);
    expect(read.size).toBe(2);
    expect(read.get(a)!.map((e) => e.version)).toEqual([0, 1]);
    expect(read.get(b)!.map((e) => e.version)).toEqual([0]);
  });

  it('an empty input reads an empty map; only missing streams read an empty map', async () => {
    const empty = await db.store.readStreams([]);
    expect(empty).toBeInstanceOf(Map);
    expect(empty.size).toBe(0);
    expect((await db.store.readStreams([newStream(), newStream()])).size).toBe(0);
  });

  it('does not match other streams by prefix', async () => {
    const a = newStream();
    await db.store.appendToStream(`${a}-child`, events(1), { tenantId });
    await db.store.appendToStream(a, events(1), { tenantId });
    const read = await db.store.readStreams([a]);
    expect([...read.keys()]).toEqual([a]);
    expect(read.get(a)).toHaveLength(1);
  });

  it('applies the upcasters to every event', async () => {
    const splitName = splitNameUpcaster('PersonNamed');
    const upcasting = new PostgresEventStore(db.tdb.pool, { upcasters: [splitName] });
    const a = newStream('person');
    const b = newStream('person');
    await db.store.appendToStreams([
      {
        streamId: a,
        tenantId,
        events: [
          { type: 'PersonNamed', schemaVersion: 1, data: { name: 'ada king lovelace' } },
          { type: 'PersonNamed', schemaVersion: 2, data: { first: 'ada', last: 'lovelace' } },
          { type: 'OtherThing', schemaVersion: 1, data: { name: 'x y' } },
        ],
      },
      { streamId: b, tenantId, events: [{ type: 'PersonNamed', schemaVersion: 1, data: { name: 'alan turing' } }] },
    ]);

    const read = await upcasting.readStreams([a, b]);
    expect(read.get(a)!.map((e) => [e.schemaVersion, e.data])).toEqual([
      [2, { first: 'ada', last: 'king lovelace' }],
      [2, { first: 'ada', last: 'lovelace' }],
      [1, { name: 'x y' }],
    ]);
    expect(read.get(b)!.map((e) => [e.schemaVersion, e.data])).toEqual([[2, { first: 'alan', last: 'turing' }]]);
    // A store without upcasters reads what was stored.
    expect((await db.store.readStreams([b])).get(b)!.map((e) => [e.schemaVersion, e.data])).toEqual([[1, { name: 'alan turing' }]]);
  });
});
