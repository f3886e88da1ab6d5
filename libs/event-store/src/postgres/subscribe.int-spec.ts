import { randomUUID } from 'crypto';
import { AppendResult, RecordedEvent, SubscribeOptions, Subscription } from '@app/event-store';
import { useStoreDatabase } from '../testing/append-fixtures';
import { waitFor, waitUntilReadable } from '../testing/wait-for';

jest.setTimeout(60_000);

const tenantId = 'tenant-sub';

const db = useStoreDatabase();

/** Appends `count` events one by one (each its own append and position), in order. */
async function appendOneByOne(streamId: string, count: number, from: number): Promise<{ eventId: string; result: AppendResult }[]> {
  const out: { eventId: string; result: AppendResult }[] = [];
  for (let n = from; n < from + count; n++) {
    const eventId = randomUUID();
    out.push({ eventId, result: await db.store.appendToStream(streamId, [{ eventId, type: 'Ticked', data: { n } }], { tenantId }) });
  }
  return out;
}

async function listenersOnChannel(): Promise<number> {
  const { rows } = await db.tdb.pool.query(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen saga_events%'`,
  );
  return rows[0].n;
}

/**
 * Appends 30 events, subscribes after the 10th, expects 11..30 (catch-up) then 20 live appends,
 * all in order, in batches of at most 5.
 */
async function catchUpThenLive(options: Pick<SubscribeOptions, 'listen' | 'pollIntervalMs'>, onRunning?: () => Promise<void>) {
  const streamId = `clock-${randomUUID()}`;
  const history = await appendOneByOne(streamId, 30, 0);
  const tenth = history[9].result.globalPosition;
  await waitUntilReadable(db.store, history[29].result.globalPosition);

  const received: RecordedEvent[] = [];
  const batchSizes: number[] = [];
  let subscription: Subscription | undefined;
  try {
    subscription = db.store.subscribe({
      ...options,
      from: tenth,
      batchSize: 5,
      handler: async (events) => {
        batchSizes.push(events.length);
        received.push(...events);
      },
    });

    await waitFor(() => received.length >= 20, { what: 'catch-up of events 11..30' });
    expect(received.map((e) => e.eventId)).toEqual(history.slice(10).map((h) => h.eventId));
    expect(batchSizes).toEqual([5, 5, 5, 5]);
    expect(subscription.position).toBe(history[29].result.globalPosition);
    await onRunning?.();

    const live = await appendOneByOne(streamId, 20, 30);
    await waitFor(() => received.length >= 40, { what: '20 live appends' });

    expect(received.map((e) => e.eventId)).toEqual([...history.slice(10), ...live].map((h) => h.eventId));
    expect(received.map((e) => e.version)).toEqual(Array.from({ length: 40 }, (_, i) => i + 10));
    const positions = received.map((e) => e.globalPosition);
    positions.slice(1).forEach((p, i) => expect(p).toBeGreaterThan(positions[i]));
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(5);
    expect(subscription.position).toBe(live[19].result.globalPosition);
  } finally {
    await subscription?.stop();
  }
}

describe('subscribe', () => {
  it('catches up from a position mid-log, then follows live appends in order (LISTEN/NOTIFY, the default)', async () => {
    await catchUpThenLive({}, async () => {
      expect(await listenersOnChannel()).toBe(1);
    });
    expect(await listenersOnChannel()).toBe(0);
  });

  it('with LISTEN an append wakes the subscription at once, without waiting for the poll interval', async () => {
    const streamId = `clock-${randomUUID()}`;
    const [before] = await appendOneByOne(streamId, 1, 0);
    await waitUntilReadable(db.store, before.result.globalPosition);
    const caughtUp: number[] = [];
    const received: RecordedEvent[] = [];
    // Polling once a minute: within this test only a notification can make it read again.
    const subscription = db.store.subscribe({
      from: before.result.globalPosition,
      pollIntervalMs: 60_000,
      handler: async (events) => {
        received.push(...events);
      },
      onCaughtUp: (position) => caughtUp.push(position),
    });
    try {
      // A notification of the earlier append may still arrive and wake it once more: count from here.
      await waitFor(() => caughtUp.length >= 1, { what: 'the subscription caught up' });
      const reads = caughtUp.length;
      const [live] = await appendOneByOne(streamId, 1, 1);
      // The woken read may find the event not yet readable while an older transaction anywhere on
      // the server is still open (gap safety); it then waits for the next poll. The wake-up is
      // what LISTEN promises, and it must come long before the minute is over.
      await waitFor(() => caughtUp.length > reads && received.length === 1, { what: 'a read woken by the notification' });
      expect(received.map((e) => e.eventId)).toEqual([live.eventId]);
    } finally {
      await subscription.stop();
    }
  });

  it('catches up and follows live appends by polling alone (listen: false)', async () => {
    await catchUpThenLive({ listen: false, pollIntervalMs: 10 }, async () => {
      expect(await listenersOnChannel()).toBe(0);
    });
  });

  it('a failing handler gets the same batch again, and the subscription moves on once it succeeds', async () => {
    const streamId = `clock-${randomUUID()}`;
    const from = await db.store.headPosition();
    const appended = await appendOneByOne(streamId, 3, 0);
    await waitUntilReadable(db.store, appended[2].result.globalPosition);
    const calls: string[][] = [];
    const errors: number[] = [];
    const subscription = db.store.subscribe({
      from,
      listen: false,
      pollIntervalMs: 10,
      handler: async (events) => {
        calls.push(events.map((e) => e.eventId));
        if (calls.length === 1) throw new Error('projection down');
      },
      onError: (_err, attempt) => errors.push(attempt),
    });
    try {
      await waitFor(() => calls.length >= 2, { what: 'the batch redelivered' });
    } finally {
      await subscription.stop();
    }
    expect(errors).toEqual([1]);
    expect(calls[1]).toEqual(calls[0]);
    expect(calls[0]).toEqual(appended.map((a) => a.eventId));
    expect(subscription.position).toBe(appended[2].result.globalPosition);
  });
});
