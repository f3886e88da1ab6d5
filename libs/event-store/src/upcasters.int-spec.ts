import { randomUUID } from 'crypto';
import { createTestDatabase, TestDatabase } from '@app/database';
import { PostgresEventStore, RecordedEvent, Upcaster } from '@app/event-store';
import { splitNameUpcaster } from './testing/append-fixtures';
import { waitFor, waitUntilReadable } from './testing/wait-for';

jest.setTimeout(60_000);

const tenantId = 'tenant-upcast';

/** v1 stored `{ name: 'first last' }`; v2 splits it. */
const splitName = splitNameUpcaster('ThingHappened');
/** v3 adds a field derived from v2's shape and the metadata. */
const addInitials: Upcaster = {
  type: 'ThingHappened',
  fromSchemaVersion: 2,
  toSchemaVersion: 3,
  upcast: (data, metadata) => {
    const d = data as { first: string; last: string };
    return { ...d, initials: `${d.first[0]}${d.last[0]}`, tenant: metadata.tenantId };
  },
};

let tdb: TestDatabase;
/** Writes as an old version of the application did: no upcasters. */
let oldStore: PostgresEventStore;
let store: PostgresEventStore;

const streamId = `thing-${randomUUID()}`;
const v1Id = randomUUID();
const v2Id = randomUUID();
const otherId = randomUUID();
let startPosition = 0;

beforeAll(async () => {
  tdb = await createTestDatabase();
  oldStore = new PostgresEventStore(tdb.pool);
  store = new PostgresEventStore(tdb.pool, { upcasters: [splitName] });
  startPosition = await oldStore.headPosition();
  const appended = await oldStore.appendToStream(
    streamId,
    [
      { eventId: v1Id, type: 'ThingHappened', schemaVersion: 1, data: { name: 'a b' } },
      // Written by a newer application: already in the v2 shape, left as is.
      { eventId: v2Id, type: 'ThingHappened', schemaVersion: 2, data: { first: 'c', last: 'd' } },
      // Another type with the same schema version is not touched.
      { eventId: otherId, type: 'OtherThingHappened', schemaVersion: 1, data: { name: 'e f' } },
    ],
    { tenantId },
  );
  await waitUntilReadable(oldStore, appended.globalPosition);
});

afterAll(async () => {
  await tdb?.drop();
});

const expectUpcast = (events: RecordedEvent[]) => {
  expect(events.map((e) => ({ eventId: e.eventId, schemaVersion: e.schemaVersion, data: e.data }))).toEqual([
    { eventId: v1Id, schemaVersion: 2, data: { first: 'a', last: 'b' } },
    { eventId: v2Id, schemaVersion: 2, data: { first: 'c', last: 'd' } },
    { eventId: otherId, schemaVersion: 1, data: { name: 'e f' } },
  ]);
};

describe('upcasters', () => {
  it('readStream returns the v2 shape of a stored v1 event', async () => {
    expectUpcast((await store.readStream(streamId)).events);
  });

  it('readAll returns the v2 shape of a stored v1 event', async () => {
    expectUpcast((await store.readAll({ after: startPosition })).events);
  });

  it('a subscription receives the v2 shape of a stored v1 event', async () => {
    const received: RecordedEvent[] = [];
    const subscription = store.subscribe({
      from: startPosition,
      pollIntervalMs: 20,
      handler: async (events) => {
        received.push(...events);
      },
    });
    try {
      await waitFor(() => received.length >= 3, { what: 'the subscription received the 3 events' });
    } finally {
      await subscription.stop();
    }
    expectUpcast(received);
  });

  it('leaves the stored rows unchanged', async () => {
    await store.readStream(streamId);
    const { rows } = await tdb.pool.query('select event_id, schema_version, data from events where stream_id = $1 order by version', [
      streamId,
    ]);
    expect(rows).toEqual([
      { event_id: v1Id, schema_version: 1, data: { name: 'a b' } },
      { event_id: v2Id, schema_version: 2, data: { first: 'c', last: 'd' } },
      { event_id: otherId, schema_version: 1, data: { name: 'e f' } },
    ]);
    // A store without upcasters still reads what was written.
    expect((await oldStore.readStream(streamId, { limit: 1 })).events[0]).toMatchObject({ schemaVersion: 1, data: { name: 'a b' } });
  });

  it('chains upcasters v1 → v2 → v3', async () => {
    const chained = new PostgresEventStore(tdb.pool, { upcasters: [addInitials, splitName] });
    const [v1, v2] = (await chained.readStream(streamId, { limit: 2 })).events;
    expect(v1).toMatchObject({ schemaVersion: 3, data: { first: 'a', last: 'b', initials: 'ab', tenant: tenantId } });
    expect(v2).toMatchObject({ schemaVersion: 3, data: { first: 'c', last: 'd', initials: 'cd', tenant: tenantId } });
  });
});
