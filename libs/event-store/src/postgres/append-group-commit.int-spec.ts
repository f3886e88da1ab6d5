import { PostgresEventStore } from '@app/event-store';
import { describeError, events, newStream, rejectionOf, storedEvents, useStoreDatabase } from '../testing/append-fixtures';
import { openConnections } from '../testing/wait-for';

// Group commit of appends made outside a transaction: concurrent appends share one statement and
// one commit, and each is still checked and applied on its own.

jest.setTimeout(60_000);

const tenantId = 'tenant-group';

const db = useStoreDatabase({ poolSize: 12 });
beforeAll(() => openConnections(db.tdb.pool, 4));

/** The commits that wrote these streams: a global position is (transaction id << 16) + sequence. */
async function commitsOf(streamIds: string[]): Promise<number> {
  const { rows } = await db.tdb.pool.query('select count(distinct global_position >> 16)::int as n from events where stream_id = any($1::text[])', [
    streamIds,
  ]);
  return rows[0].n;
}

describe('appendToStream outside a transaction: group commit', () => {
  it('concurrent appends to new streams share commits, each with its own versions and positions', async () => {
    const streams = Array.from({ length: 40 }, () => newStream('grouped'));
    const results = await Promise.all(streams.map((s) => db.store.appendToStream(s, events(2), { tenantId, expectedVersion: 'no_stream' })));
    results.forEach((r, i) => expect(r).toMatchObject({ streamId: streams[i], firstVersion: 0, nextExpectedVersion: 1 }));
    expect(new Set(results.map((r) => r.globalPosition)).size).toBe(40);
    for (const s of streams) expect(await storedEvents(db.tdb.pool).versions(s)).toEqual([0, 1]);
    expect(await commitsOf(streams)).toBeLessThan(40);
  });

  it('without group commit every append is a commit of its own', async () => {
    const alone = new PostgresEventStore(db.tdb.pool, { groupCommit: false });
    const streams = Array.from({ length: 12 }, () => newStream('alone'));
    await Promise.all(streams.map((s) => alone.appendToStream(s, events(1), { tenantId, expectedVersion: 'no_stream' })));
    expect(await commitsOf(streams)).toBe(12);
  });

  it('a conflicting append fails alone with the actual version; a replay returns the original result; the rest are written', async () => {
    const existing = newStream('existing');
    await db.store.appendToStream(existing, events(3), { tenantId, expectedVersion: 'no_stream' });
    const replayed = newStream('replayed');
    const original = events(2);
    const first = await db.store.appendToStream(replayed, original, { tenantId, expectedVersion: 'no_stream' });
    const fresh = Array.from({ length: 20 }, () => newStream('fresh'));

    const outcomes = await Promise.allSettled([
      ...fresh.map((s) => db.store.appendToStream(s, events(1), { tenantId, expectedVersion: 'no_stream' })),
      db.store.appendToStream(existing, events(1), { tenantId, expectedVersion: 0 }),
      db.store.appendToStream(replayed, original, { tenantId, expectedVersion: 'no_stream' }),
    ]);
    const [conflict, replay] = outcomes.slice(20);
    expect(conflict.status).toBe('rejected');
    expect(describeError((conflict as PromiseRejectedResult).reason)).toEqual({
      code: 'WRONG_EXPECTED_VERSION',
      details: expect.objectContaining({ streamId: existing, expectedVersion: 0, actualVersion: 2 }),
    });
    expect(replay).toEqual({ status: 'fulfilled', value: first });
    expect(outcomes.slice(0, 20).every((o) => o.status === 'fulfilled')).toBe(true);
    for (const s of fresh) expect(await storedEvents(db.tdb.pool).versions(s)).toEqual([0]);
    expect(await storedEvents(db.tdb.pool).versions(existing)).toEqual([0, 1, 2]);
    expect(await storedEvents(db.tdb.pool).versions(replayed)).toEqual([0, 1]);
  });

  it('of concurrent appends with one exact expected version exactly one wins; with `any` all are written, gapless', async () => {
    const hot = newStream('hot');
    await db.store.appendToStream(hot, events(1), { tenantId, expectedVersion: 'no_stream' });
    const exact = await Promise.allSettled(Array.from({ length: 30 }, () => db.store.appendToStream(hot, events(1), { tenantId, expectedVersion: 0 })));
    expect(exact.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of exact.filter((x) => x.status === 'rejected')) {
      expect(describeError((o as PromiseRejectedResult).reason)).toEqual({
        code: 'WRONG_EXPECTED_VERSION',
        details: expect.objectContaining({ streamId: hot, expectedVersion: 0, actualVersion: 1 }),
      });
    }
    const any = await Promise.allSettled(Array.from({ length: 30 }, () => db.store.appendToStream(hot, events(1), { tenantId, expectedVersion: 'any' })));
    expect(any.filter((o) => o.status === 'rejected').map((o) => describeError((o as PromiseRejectedResult).reason))).toEqual([]);
    expect(await storedEvents(db.tdb.pool).versions(hot)).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  it('an invalid append fails at once and never reaches a group', async () => {
    const good = newStream('good');
    const [bad, ok] = await Promise.allSettled([
      db.store.appendToStream(newStream('bad'), [], { tenantId }),
      db.store.appendToStream(good, events(1), { tenantId, expectedVersion: 'no_stream' }),
    ]);
    expect(describeError((bad as PromiseRejectedResult).reason)).toMatchObject({ code: 'INVALID_APPEND' });
    expect(ok.status).toBe('fulfilled');
    expect((await rejectionOf(db.store.appendToStream(good, [{ type: '', data: {} }], { tenantId }))).code).toBe('INVALID_APPEND');
  });
});
