import { randomUUID } from 'crypto';
import { RecordedEvent } from '@app/event-store';
import { useStoreDatabase } from '../testing/append-fixtures';
import { waitUntilReadable } from '../testing/wait-for';

jest.setTimeout(60_000);

const db = useStoreDatabase();

/** Everything appended in this file, in append order (appends are sequential: that is log order). */
const appended: { streamId: string; tenantId: string; eventId: string }[] = [];

let lastAppended = 0;

async function append(streamId: string, tenantId: string, count: number): Promise<void> {
  const events = Array.from({ length: count }, (_, n) => ({ eventId: randomUUID(), type: 'Happened', data: { n } }));
  lastAppended = (await db.store.appendToStream(streamId, events, { tenantId })).globalPosition;
  appended.push(...events.map((e) => ({ streamId, tenantId, eventId: e.eventId })));
}

const ids = (events: RecordedEvent[]) => events.map((e) => e.eventId);

beforeAll(async () => {
  const orderA = `order-${randomUUID()}`;
  const orderB = `order-${randomUUID()}`;
  const invoice = `invoice-${randomUUID()}`;
  // The category is the text before the first '-' only.
  const orderWithDashes = `order-x-${randomUUID()}`;
  await append(orderA, 'tenant-a', 3);
  await append(invoice, 'tenant-a', 2);
  await append(orderB, 'tenant-b', 4);
  await append(orderWithDashes, 'tenant-b', 1);
  await append(invoice, 'tenant-a', 1);
  await append(orderA, 'tenant-a', 2);
  await append(`ordering-${randomUUID()}`, 'tenant-a', 1);
  await waitUntilReadable(db.store, lastAppended);
});

describe('readAll', () => {
  it('reads the whole log in position order', async () => {
    const { events, lastPosition } = await db.store.readAll();
    expect(ids(events)).toEqual(appended.map((e) => e.eventId));
    const positions = events.map((e) => e.globalPosition);
    positions.slice(1).forEach((p, i) => expect(p).toBeGreaterThan(positions[i]));
    expect(lastPosition).toBe(positions[positions.length - 1]);
    expect(await db.store.headPosition()).toBe(lastPosition);
  });

  it('pages by position: after is exclusive, lastPosition is where the next page starts', async () => {
    const pages: RecordedEvent[][] = [];
    let after = 0;
    for (;;) {
      const page = await db.store.readAll({ after, limit: 3 });
      if (page.events.length === 0) {
        expect(page.lastPosition).toBe(after);
        break;
      }
      expect(page.events.length).toBeLessThanOrEqual(3);
      expect(page.events[0].globalPosition).toBeGreaterThan(after);
      expect(page.lastPosition).toBe(page.events[page.events.length - 1].globalPosition);
      pages.push(page.events);
      after = page.lastPosition;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 3, 2]);
    expect(ids(pages.flat())).toEqual(appended.map((e) => e.eventId));
  });

  it('filters by category', async () => {
    const { events } = await db.store.readAll({ category: 'order' });
    expect(ids(events)).toEqual(appended.filter((e) => e.streamId.startsWith('order-')).map((e) => e.eventId));
    expect(events).toHaveLength(10);
    expect((await db.store.readAll({ category: 'invoice' })).events).toHaveLength(3);
    expect((await db.store.readAll({ category: 'ordering' })).events).toHaveLength(1);
    expect((await db.store.readAll({ category: 'nothing' })).events).toEqual([]);
  });

  it('pages a category with a limit', async () => {
    const first = await db.store.readAll({ category: 'order', limit: 4 });
    const second = await db.store.readAll({ category: 'order', after: first.lastPosition, limit: 100 });
    expect([...ids(first.events), ...ids(second.events)]).toEqual(
      appended.filter((e) => e.streamId.startsWith('order-')).map((e) => e.eventId),
    );
  });

  it("filters by tenant: a tenant reads only its own events", async () => {
    const a = await db.store.readAll({ tenantId: 'tenant-a' });
    const b = await db.store.readAll({ tenantId: 'tenant-b' });
    expect(ids(a.events)).toEqual(appended.filter((e) => e.tenantId === 'tenant-a').map((e) => e.eventId));
    expect(ids(b.events)).toEqual(appended.filter((e) => e.tenantId === 'tenant-b').map((e) => e.eventId));
    expect(a.events.every((e) => e.metadata.tenantId === 'tenant-a')).toBe(true);
    expect((await db.store.readAll({ tenantId: 'tenant-nobody' })).events).toEqual([]);
  });

  it('combines the category and tenant filters', async () => {
    const { events } = await db.store.readAll({ category: 'order', tenantId: 'tenant-a' });
    expect(ids(events)).toEqual(
      appended.filter((e) => e.streamId.startsWith('order-') && e.tenantId === 'tenant-a').map((e) => e.eventId),
    );
    expect(events).toHaveLength(5);
  });
});
