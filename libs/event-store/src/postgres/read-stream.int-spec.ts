import { randomUUID } from 'crypto';
import { NewEvent, RecordedEvent } from '@app/event-store';
import { useStoreDatabase } from '../testing/append-fixtures';
import { waitFor, waitUntilReadable } from '../testing/wait-for';

jest.setTimeout(60_000);

const tenantId = 'tenant-read';

const db = useStoreDatabase();

const versions = (events: RecordedEvent[]) => events.map((e) => e.version);

describe('readStream', () => {
  const streamId = `order-${randomUUID()}`;
  const appended: NewEvent[] = Array.from({ length: 10 }, (_, n) => ({ eventId: randomUUID(), type: 'LineAdded', data: { n } }));

  beforeAll(async () => {
    await db.store.appendToStream(streamId, appended.slice(0, 4), { tenantId, expectedVersion: 'no_stream' });
    await db.store.appendToStream(streamId, appended.slice(4), { tenantId, expectedVersion: 3 });
  });

  it('reads the whole stream forward by default, with the stream version', async () => {
    const result = await db.store.readStream(streamId);
    expect(result.streamId).toBe(streamId);
    expect(result.version).toBe(9);
    expect(versions(result.events)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(result.events.map((e) => e.eventId)).toEqual(appended.map((e) => e.eventId));
    expect(result.events.map((e) => e.data)).toEqual(appended.map((e) => e.data));
  });

  it('reads forward from a version (inclusive) with a limit', async () => {
    const result = await db.store.readStream(streamId, { fromVersion: 3, limit: 4 });
    expect(versions(result.events)).toEqual([3, 4, 5, 6]);
    expect(result.version).toBe(9);
  });

  it('reads backward from a version (inclusive) with a limit', async () => {
    const result = await db.store.readStream(streamId, { direction: 'backward', fromVersion: 6, limit: 3 });
    expect(versions(result.events)).toEqual([6, 5, 4]);
    expect(result.version).toBe(9);
  });

  it('reads backward from the end by default', async () => {
    const result = await db.store.readStream(streamId, { direction: 'backward', limit: 2 });
    expect(versions(result.events)).toEqual([9, 8]);
    expect(result.version).toBe(9);
  });

  it('reading past the end returns no events but the stream version', async () => {
    const result = await db.store.readStream(streamId, { fromVersion: 10 });
    expect(result).toEqual({ streamId, version: 9, events: [] });
  });

  it('a missing stream reads as version -1 with no events', async () => {
    const missing = `order-${randomUUID()}`;
    expect(await db.store.readStream(missing)).toEqual({ streamId: missing, version: -1, events: [] });
    expect(await db.store.readStream(missing, { direction: 'backward' })).toEqual({ streamId: missing, version: -1, events: [] });
  });

  it("another tenant's stream reads as missing", async () => {
    expect(await db.store.readStream(streamId, { tenantId: 'tenant-other' })).toEqual({ streamId, version: -1, events: [] });
    expect(versions((await db.store.readStream(streamId, { tenantId, limit: 2 })).events)).toEqual([0, 1]);
  });

  it('returns every stored field of an event', async () => {
    const [e] = (await db.store.readStream(streamId, { limit: 1 })).events;
    expect(e).toEqual({
      eventId: appended[0].eventId,
      streamId,
      version: 0,
      globalPosition: expect.any(Number),
      type: 'LineAdded',
      schemaVersion: 1,
      data: { n: 0 },
      metadata: { tenantId },
      recordedAt: expect.any(Date),
    });
    expect(e.globalPosition).toBeGreaterThan(0);
  });
});

describe('event metadata', () => {
  it('tenantId, correlationId, causationId and actor appear on every event read from a stream, the log and a subscription', async () => {
    const streamId = `order-${randomUUID()}`;
    const correlationId = randomUUID();
    const before = await db.store.headPosition();
    const batch: NewEvent[] = [
      { type: 'OrderPlaced', data: {} },
      // Event metadata wins over the batch's, except the tenant, which is always the append's.
      { type: 'OrderPaid', data: {}, metadata: { causationId: 'cause-2', actor: 'user:bob', tenantId: 'tenant-spoofed' } },
      { type: 'OrderShipped', data: {} },
    ];
    const appended = await db.store.appendToStream(streamId, batch, {
      tenantId,
      metadata: { correlationId, causationId: 'cause-1', actor: 'user:alice' },
    });
    await waitUntilReadable(db.store, appended.globalPosition);

    const expected = [
      { tenantId, correlationId, causationId: 'cause-1', actor: 'user:alice' },
      { tenantId, correlationId, causationId: 'cause-2', actor: 'user:bob' },
      { tenantId, correlationId, causationId: 'cause-1', actor: 'user:alice' },
    ];
    const fromStream = (await db.store.readStream(streamId)).events;
    expect(fromStream.map((e) => e.metadata)).toEqual(expected);

    const fromLog = (await db.store.readAll({ after: before })).events.filter((e) => e.streamId === streamId);
    expect(fromLog.map((e) => e.metadata)).toEqual(expected);

    const received: RecordedEvent[] = [];
    const subscription = db.store.subscribe({
      from: before,
      pollIntervalMs: 20,
      handler: async (events) => {
        received.push(...events.filter((e) => e.streamId === streamId));
      },
    });
    try {
      await waitFor(() => received.length >= 3, { what: 'the subscription received the 3 events' });
    } finally {
      await subscription.stop();
    }
    expect(received.map((e) => e.metadata)).toEqual(expected);

    const { rows } = await db.tdb.pool.query('select distinct tenant_id from events where stream_id = $1', [streamId]);
    expect(rows).toEqual([{ tenant_id: tenantId }]);
  });
});
