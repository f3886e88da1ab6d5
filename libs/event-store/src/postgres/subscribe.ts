import { Pool, PoolClient } from 'pg';
import { ReadAllOptions, RecordedEvent } from '../event-store.types';
import { readAll } from './read-all';
import { failureBackoffMs, WakeableSleep } from '../wakeable-sleep';

export const EVENTS_CHANNEL = 'saga_events';

export interface SubscribeOptions {
  /** Exclusive start position (0: from the beginning). */
  from?: number;
  batchSize?: number;
  category?: string;
  tenantId?: string;
  /** Fallback polling interval when no notification arrives. */
  pollIntervalMs?: number;
  /** LISTEN for append notifications (a dedicated connection). Polling alone stays correct. */
  listen?: boolean;
  /** Called with each batch in global order; the subscription moves on only after it resolves. */
  handler: (events: RecordedEvent[]) => Promise<void>;
  /** A handler failure: the same batch is retried with backoff. */
  onError?: (err: unknown, attempt: number) => void;
  /** Each time the subscription has read up to the head of the log. */
  onCaughtUp?: (position: number) => void;
}

export interface Subscription {
  /** The position of the last event handed to the handler (and accepted by it). */
  readonly position: number;
  /** Reads again now instead of waiting for the next poll (e.g. a Redis wake-up). */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Catches up from a position, then follows live appends: woken by LISTEN/NOTIFY (or `wake()`),
 * with polling as the fallback. Batches arrive in global order, without gaps (readAll is gap-safe).
 */
export function subscribe(pool: Pool, options: SubscribeOptions): Subscription {
  const batchSize = options.batchSize ?? 500;
  const pollMs = options.pollIntervalMs ?? 250;
  let position = options.from ?? 0;
  let stopped = false;
  let listener: PoolClient | undefined;
  const pause = new WakeableSleep();
  const wake = () => pause.wake();

  async function startListening(): Promise<void> {
    if (!options.listen) return;
    try {
      listener = await pool.connect();
      listener.on('notification', wake);
      listener.on('error', () => {
        // The connection broke: polling carries on; try to listen again later.
        const l = listener;
        listener = undefined;
        l?.release(true);
      });
      await listener.query(`listen ${EVENTS_CHANNEL}`);
    } catch {
      listener?.release(true);
      listener = undefined;
    }
  }

  const loop = (async () => {
    await startListening();
    let failures = 0;
    while (!stopped) {
      pause.consume();
      let batch: RecordedEvent[] = [];
      try {
        const read: ReadAllOptions = { after: position, limit: batchSize, category: options.category, tenantId: options.tenantId };
        const page = await readAll(pool, read);
        batch = page.events;
        if (batch.length) {
          await options.handler(batch);
          position = batch[batch.length - 1].globalPosition;
        }
        failures = 0;
      } catch (err) {
        failures++;
        options.onError?.(err, failures);
        await pause.sleep(failureBackoffMs(failures, 30_000), { wakeable: false });
        continue;
      }
      if (batch.length < batchSize) {
        options.onCaughtUp?.(position);
        if (options.listen && !listener && !stopped) await startListening();
        await pause.sleep(pollMs);
      }
    }
  })();

  return {
    get position() {
      return position;
    },
    wake,
    async stop() {
      stopped = true;
      pause.cancel();
      await loop;
      if (listener) {
        listener.removeAllListeners('notification');
        await listener.query(`unlisten ${EVENTS_CHANNEL}`).catch(() => undefined);
        listener.release();
        listener = undefined;
      }
    },
  };
}
