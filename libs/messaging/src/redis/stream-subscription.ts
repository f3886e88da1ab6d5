import { MessageHandler, Subscription } from '../message-bus.port';
import { reasonOf } from '../messaging.errors';
import { shouldDeadLetter, unacknowledgedReason } from '../delivery-rule';
import { decodeMessage, fieldOf } from '../message.codec';
import { ResolvedSubscribeOptions } from '../subscribe-options';
import { ack, claimIdle, removeConsumerIfIdle, retryLater, withDeliveryCounts } from './claims';
import { deadLetter } from './dead-letters';
import { RedisClient, RedisConnection } from './redis-connection';
import { PendingEntry, RawEntry, StreamState } from './stream-entry';

const CLOSED = Symbol('closed');

/**
 * One consumer of one group on one topic's stream, with its own blocking connection (one stream is one
 * slot, so this holds in a cluster too; a pattern subscription runs one of these per topic). Each turn of
 * its loop: reclaim messages idle for idleMs (every idleMs / 2, or when a retry is due), else block on
 * XREADGROUP for new ones. A batch is handled concurrently across keys, in order within a key.
 */
export class RedisStreamSubscription implements Subscription {
  private readonly conn: RedisClient;
  private readonly stream: StreamState;
  private readonly reclaimEveryMs: number;
  private readonly closedSignal: Promise<typeof CLOSED>;
  private signalClosed!: () => void;
  private closed = false;
  private loopDone?: Promise<void>;
  private nextReclaimAt = 0;
  private inFlight = 0;
  private wake?: () => void;

  /** `start`: where a group created now begins: after what exists (`$`), or at the stream's start (`0`). */
  constructor(
    private readonly connection: RedisConnection,
    topic: string,
    private readonly group: string,
    private readonly handler: MessageHandler,
    private readonly options: ResolvedSubscribeOptions,
    private readonly start: '$' | '0',
    private readonly onClose: (subscription: RedisStreamSubscription) => void = () => undefined,
  ) {
    this.stream = { topic, key: connection.keys.stream(topic), cursor: '0-0' };
    this.reclaimEveryMs = Math.min(Math.max(Math.floor(options.idleMs / 2), 10), 5_000);
    this.closedSignal = new Promise((resolve) => (this.signalClosed = () => resolve(CLOSED)));
    this.conn = connection.duplicate({
      // Blocking reads wait for Redis to come back rather than fail.
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      connectionName: `${connection.keys.prefix}${group}:${options.consumer}`,
    });
  }

  /** Creates the group if need be, then starts the loop; rejects when Redis cannot be reached now. */
  async open(): Promise<void> {
    await this.ensureGroup(this.start);
    this.loopDone = this.loop();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClosed();
    this.wake?.();
    this.onClose(this);
    this.conn.disconnect();
    await this.loopDone;
    if (this.inFlight > 0 || this.connection.isClosed || this.connection.redis.status !== 'ready') return;
    await removeConsumerIfIdle(this.connection, this.stream, this.group, this.options.consumer);
  }

  private async loop(): Promise<void> {
    let backoff = 0;
    while (!this.closed) {
      try {
        await this.untilClosed(this.turn());
        backoff = 0;
      } catch (err) {
        if (this.closed) break;
        if (/NOGROUP/.test(reasonOf(err))) {
          // Redis lost the stream or the group (flushed, restarted empty): start them again from 0.
          try {
            await this.untilClosed(this.ensureGroup('0'));
            continue;
          } catch (e) {
            err = e;
          }
        }
        this.connection.report(err);
        backoff = Math.min(backoff ? backoff * 2 : 50, this.connection.maxReconnectDelayMs);
        await this.pause(backoff);
      }
    }
  }

  private async turn(): Promise<void> {
    if (Date.now() >= this.nextReclaimAt) {
      const reclaimed = await this.reclaim();
      if (reclaimed.length > 0) return this.handleBatch(reclaimed);
    }
    if (this.closed) return;
    const wait = Math.max(1, Math.min(this.connection.blockMs, this.nextReclaimAt - Date.now()));
    const batch = await this.read(wait);
    if (batch.length > 0) await this.handleBatch(batch);
  }

  /** New messages of the group's stream, blocking up to `wait` ms. */
  private async read(wait: number): Promise<PendingEntry[]> {
    const { consumer, batchSize } = this.options;
    const reply = await this.conn.xreadgroup('GROUP', this.group, consumer, 'COUNT', batchSize, 'BLOCK', wait, 'STREAMS', this.stream.key, '>');
    const batch: PendingEntry[] = [];
    for (const [key, entries] of streamsOf(reply)) {
      if (key !== this.stream.key) continue;
      for (const [id, fields] of entries) if (fields) batch.push({ stream: this.stream, id, fields, deliveries: 1 });
    }
    return batch;
  }

  /** Takes over the messages of this group left unacknowledged for idleMs, with their delivery counts. */
  private async reclaim(): Promise<PendingEntry[]> {
    const { claimed, more } = await claimIdle(this.connection, this.conn, this.stream, this.group, this.options);
    this.nextReclaimAt = Date.now() + (more ? 0 : this.reclaimEveryMs);
    return withDeliveryCounts(this.conn, claimed, this.group, this.options.consumer);
  }

  private async handleBatch(batch: PendingEntry[]): Promise<void> {
    const lanes = new Map<string, PendingEntry[]>();
    for (const p of batch) {
      const key = fieldOf(p.fields, 'key');
      const lane = key === undefined ? '' : `key:${key}`;
      const list = lanes.get(lane);
      if (list) list.push(p);
      else lanes.set(lane, [p]);
    }
    await Promise.all(
      [...lanes.values()].map(async (lane) => {
        for (const p of lane) {
          if (this.closed) return;
          await this.handle(p);
        }
      }),
    );
  }

  private async handle(p: PendingEntry): Promise<void> {
    const { maxDeliveries, retryDelayMs } = this.options;
    this.inFlight++;
    try {
      // Redis counts this delivery already: the ones made before it are one fewer.
      if (shouldDeadLetter(p.deliveries - 1, maxDeliveries)) {
        // Failed deliveries are dead-lettered as they fail; this one was reclaimed from a consumer that never answered.
        await deadLetter(this.connection, this.group, p, unacknowledgedReason(p.deliveries - 1), p.deliveries - 1);
        return;
      }
      let failure: string | undefined;
      try {
        const message = decodeMessage(p.fields);
        await this.handler({ ...message, topic: p.stream.topic, deliveries: p.deliveries });
      } catch (err) {
        failure = reasonOf(err);
      }
      if (failure === undefined) {
        await ack(this.connection, p.stream, this.group, p.id);
      } else if (shouldDeadLetter(p.deliveries, maxDeliveries)) {
        await deadLetter(this.connection, this.group, p, failure, p.deliveries);
      } else {
        await retryLater(this.connection, p.stream, this.group, p.id, this.options);
        p.stream.cursor = '0-0';
        this.nextReclaimAt = Math.min(this.nextReclaimAt, Date.now() + retryDelayMs);
      }
    } catch (err) {
      // Not acknowledged: the message comes back after idleMs.
      this.connection.report(err);
    } finally {
      this.inFlight--;
    }
  }

  private async ensureGroup(start: '$' | '0'): Promise<void> {
    await this.connection.command('create consumer group', async () => {
      try {
        await this.connection.redis.xgroup('CREATE', this.stream.key, this.group, start, 'MKSTREAM');
      } catch (err) {
        if (!/BUSYGROUP/.test(reasonOf(err))) throw err;
      }
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      if (this.closed) done();
    });
  }

  /** Lets close() return at once whatever the loop waits on (a read of a dead connection, a stuck handler). */
  private async untilClosed<T>(work: Promise<T>): Promise<T | typeof CLOSED> {
    work.catch(() => undefined);
    return Promise.race([work, this.closedSignal]);
  }
}

/** An XREADGROUP reply as [stream key, entries] pairs, whatever shape the client's reply mapping gives it. */
function streamsOf(reply: unknown): [string, RawEntry[]][] {
  if (!reply) return [];
  if (!Array.isArray(reply)) return Object.entries(reply as Record<string, RawEntry[]>);
  if (reply.length === 0 || Array.isArray(reply[0])) return reply as [string, RawEntry[]][];
  const pairs: [string, RawEntry[]][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1] as RawEntry[]]);
  return pairs;
}
