import { PoolClient } from 'pg';
import { createTestDatabase, dropTestDatabase, TestDatabase } from '@app/database';
import { NewEvent, PostgresEventStore, RecordedEvent } from '@app/event-store';
import { defineRowProjection, InlineProjector, Projection } from '@app/projections';

/**
 * Acceptance: an inline projection is applied in the transaction of the append, so the read model
 * and the log commit, or roll back, together.
 */
describe('InlineProjector', () => {
  let tdb: TestDatabase;
  let store: PostgresEventStore;
  let asyncCalls = 0;

  const streamCounts = defineRowProjection({
    name: 'stream_counts',
    table: 'stream_counts',
    key: ['stream_id'],
    eventTypes: ['Counted'],
    mode: 'inline',
    keys: (e) => [{ stream_id: e.streamId }],
    evolve: (row, e) => ({ n: Number(row?.n ?? 0) + 1, last_version: e.version }),
  });
  // Not inline: the InlineProjector must leave it to the runner.
  const asyncOne: Projection = {
    name: 'async_one',
    tables: [],
    eventTypes: ['Counted'],
    mode: 'async',
    async handle() {
      asyncCalls++;
    },
  };
  const inline = new InlineProjector([streamCounts, asyncOne]);

  beforeAll(async () => {
    tdb = await createTestDatabase({ poolSize: 4 });
    store = new PostgresEventStore(tdb.pool);
    await tdb.pool.query('create table stream_counts (stream_id text primary key, n integer not null check (n <= 5), last_version bigint not null)');
  }, 60_000);

  afterAll(async () => {
    await dropTestDatabase(tdb);
  }, 60_000);

  /** What an application does: append and project inline in one transaction. */
  async function appendInline(streamId: string, events: NewEvent[], after?: (tx: PoolClient) => Promise<void>) {
    return store.transaction(async (tx) => {
      const result = await store.appendToStream(streamId, events, { tenantId: 't1', tx });
      const recorded: RecordedEvent[] = (await store.readStream(streamId, { tx, fromVersion: result.firstVersion })).events;
      await inline.apply(tx, recorded);
      await after?.(tx);
      return result;
    });
  }

  const counts = async () => (await tdb.pool.query('select * from stream_counts order by stream_id')).rows;
  const eventCount = async (streamId: string) =>
    Number((await tdb.pool.query('select count(*) as n from events where stream_id = $1', [streamId])).rows[0].n);

  it('updates the read model atomically with the append (visible as soon as the append returns)', async () => {
    await appendInline('cnt-a', [{ type: 'Counted', data: {} }, { type: 'Ignored', data: {} }, { type: 'Counted', data: {} }]);
    expect(await counts()).toEqual([{ stream_id: 'cnt-a', n: 2, last_version: 2 }]);
    await appendInline('cnt-a', [{ type: 'Counted', data: {} }]);
    await appendInline('cnt-b', [{ type: 'Ignored', data: {} }]);
    expect(await counts()).toEqual([{ stream_id: 'cnt-a', n: 3, last_version: 3 }]);
    expect(asyncCalls).toBe(0);
  });

  it('rolls back the read model with the append when the transaction fails after the projection', async () => {
    const before = await counts();
    await expect(
      appendInline('cnt-a', [{ type: 'Counted', data: {} }], async (tx) => {
        // The projection did write, inside the transaction…
        const { rows } = await tx.query(`select n from stream_counts where stream_id = 'cnt-a'`);
        expect(rows).toEqual([{ n: 4 }]);
        throw new Error('command failed after projecting');
      }),
    ).rejects.toThrow('command failed after projecting');
    // …and both the write and the event are gone.
    expect(await counts()).toEqual(before);
    expect(await eventCount('cnt-a')).toBe(4);
    await expect(
      appendInline('cnt-new', [{ type: 'Counted', data: {} }], async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await counts()).toEqual(before);
    expect(await eventCount('cnt-new')).toBe(0);
  });

  it('rolls back the append when the inline projection fails', async () => {
    const before = await counts();
    // n <= 5: the 3 existing + 3 new break the check constraint of the read model.
    await expect(
      appendInline('cnt-a', [{ type: 'Counted', data: {} }, { type: 'Counted', data: {} }, { type: 'Counted', data: {} }]),
    ).rejects.toThrow(/check constraint/);
    expect(await counts()).toEqual(before);
    expect(await eventCount('cnt-a')).toBe(4);
    expect(await store.readStream('cnt-a')).toMatchObject({ version: 3 });
  });

  it('the read model is not visible to other connections before the commit', async () => {
    let seenInside: unknown[] = [];
    let seenOutside: unknown[] = [];
    await appendInline('cnt-c', [{ type: 'Counted', data: {} }], async (tx) => {
      seenInside = (await tx.query(`select n from stream_counts where stream_id = 'cnt-c'`)).rows;
      seenOutside = (await tdb.pool.query(`select n from stream_counts where stream_id = 'cnt-c'`)).rows;
    });
    expect(seenInside).toEqual([{ n: 1 }]);
    expect(seenOutside).toEqual([]);
    expect(await counts()).toContainEqual({ stream_id: 'cnt-c', n: 1, last_version: 0 });
  });
});
