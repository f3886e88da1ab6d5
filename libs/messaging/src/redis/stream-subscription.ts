import { Redis } from 'ioredis';
import { MessageHandler, NotifyListener, Subscription } from '../message-bus.port';
import { reasonOf } from '../messaging.errors';
import { shouldDeadLetter, unacknowledgedReason } from '../delivery-rule';
import { decodeMessage, fieldOf } from '../message.codec';
import { ResolvedSubscribeOptions } from '../subscribe-options';
import { TopicMatcher } from '../topic-matcher';
import { ack, claimIdle, removeConsumerIfIdle, retryLater, withDeliveryCounts } from './claims';
import { deadLetter } from './dead-letters';
import { RedisNotifications } from './notifications';
import { RedisConnection } from './redis-connection';
import { PendingEntry, RawEntry, StreamState } from './stream-entry';

const CLOSED = Symbol('closed');
const DISCOVERY_EVERY_MS = 5_000;

/**
 * One consumer of one group, with its own blocking connection. Each turn of its loop: discover new
 * topics (patterns), reclaim messages idle for idleMs (every idleMs / 2, or when a retry is due), else
 * block on XREADGROUP for new ones. A batch is handled concurrently across keys, in order within a key.
 */
export class RedisStreamSubscription implements Subscription {
  private readonly conn: Redis;
  private readonly streams = new Map<string, StreamState>();
  private readonly reclaimEveryMs: number;
  private readonly closedSignal: Promise<typeof CLOSED>;
  private signalClosed!: () => void;
  private closed = false;
  private loopDone?: Promise<void>;
  private clientId?: number;
  private needClientId = true;
  private reading = false;
  private topicsDirty = false;
  private nextDiscoveryAt = 0;
  private nextReclaimAt = 0;
  private inFlight = 0;
  private wake?: () => void;
  private readonly topicListener: NotifyListener = (topic) => this.onTopicAnnounced(topic);

  constructor(
    private readonly connection: RedisConnection,
    private readonly notifications: RedisNotifications,
    private readonly matcher: TopicMatcher,
    private readonly group: string,
    private readonly handler: MessageHandler,
    private readonly options: ResolvedSubscribeOptions,
    private readonly onClose: (subscription: RedisStreamSubscription) => void,
  ) {
    this.reclaimEveryMs = Math.min(Math.max(Math.floor(options.idleMs / 2), 10), 5_000);
    this.closedSignal = new Promise((resolve) => (this.signalClosed = () => resolve(CLOSED)));
    this.conn = connection.duplicate({
      // Blocking reads wait for Redis to come back rather than fail.
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      connectionName: `${connection.keys.prefix}${group}:${options.consumer}`,
    });
    this.conn.on('ready', () => {
      this.needClientId = true;
      if (!this.matcher.exact) this.topicsDirty = true;
    });
  }

  async start(): Promise<void> {
    let topics: string[];
    if (this.matcher.exact) {
      topics = [this.matcher.exact];
    } else {
      // Listen before listing, so that no topic falls between the two.
      await this.notifications.listen(this.connection.keys.topicsChannel, this.topicListener);
      topics = (await this.knownTopics()).filter((t) => this.matcher.matches(t));
    }
    // A new group starts at the end of the topics that exist now.
    await this.ensureGroups(topics, '$');
    this.nextDiscoveryAt = Date.now() + DISCOVERY_EVERY_MS;
    this.loopDone = this.loop();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClosed();
    this.wake?.();
    this.onClose(this);
    if (!this.matcher.exact) await this.notifications.unlisten(this.connection.keys.topicsChannel, this.topicListener);
    this.conn.disconnect();
    await this.loopDone;
    if (this.inFlight > 0 || this.connection.isClosed || this.connection.redis.status !== 'ready' || this.streams.size === 0) return;
    await removeConsumerIfIdle(this.connection, [...this.streams.values()], this.group, this.options.consumer);
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
          const topics = [...this.streams.values()].map((s) => s.topic);
          try {
            await this.untilClosed(this.ensureGroups(topics, '0', true));
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
    if (this.needClientId) {
      this.needClientId = false;
      this.clientId = Number(await this.conn.client('ID'));
    }
    if (!this.matcher.exact && (this.topicsDirty || Date.now() >= this.nextDiscoveryAt)) {
      this.topicsDirty = false;
      this.nextDiscoveryAt = Date.now() + DISCOVERY_EVERY_MS;
      const known = await this.knownTopics();
      // A topic first seen now was created after we subscribed: all of it is ours.
      await this.ensureGroups(known.filter((t) => this.matcher.matches(t)), '0');
    }
    if (Date.now() >= this.nextReclaimAt && this.streams.size > 0) {
      const reclaimed = await this.reclaim();
      if (reclaimed.length > 0) return this.handleBatch(reclaimed);
    }
    if (this.closed) return;
    const now = Date.now();
    let wait = Math.min(this.connection.blockMs, this.nextReclaimAt - now);
    if (!this.matcher.exact) wait = Math.min(wait, this.nextDiscoveryAt - now);
    wait = Math.max(1, wait);
    if (this.streams.size === 0) return this.pause(wait);
    const batch = await this.read(wait);
    if (batch.length > 0) await this.handleBatch(batch);
  }

  /** New messages of the group's streams, blocking up to `wait` ms. */
  private async read(wait: number): Promise<PendingEntry[]> {
    const keys = [...this.streams.keys()];
    this.reading = true;
    let reply: unknown;
    try {
      const { consumer, batchSize } = this.options;
      reply = await this.conn.xreadgroup(
        'GROUP', this.group, consumer, 'COUNT', batchSize, 'BLOCK', wait,
        'STREAMS', ...keys, ...keys.map(() => '>'),
      );
    } finally {
      this.reading = false;
    }
    const batch: PendingEntry[] = [];
    for (const [key, entries] of streamsOf(reply)) {
      const stream = this.streams.get(key);
      if (!stream) continue;
      for (const [id, fields] of entries) if (fields) batch.push({ stream, id, fields, deliveries: 1 });
    }
    return batch;
  }

  /** Takes over the messages of this group left unacknowledged for idleMs, with their delivery counts. */
  private async reclaim(): Promise<PendingEntry[]> {
    const { claimed, more } = await claimIdle(this.connection, this.conn, [...this.streams.values()], this.group, this.options);
    this.nextReclaimAt = Date.now() + (more ? 0 : this.reclaimEveryMs);
    return withDeliveryCounts(this.conn, claimed, this.group, this.options.consumer);
  }

  private async handleBatch(batch: PendingEntry[]): Promise<void> {
    const lanes = new Map<string, PendingEntry[]>();
    for (const p of batch) {
      const key = fieldOf(p.fields, 'key');
      const lane = key === undefined ? `topic:${p.stream.topic}` : `key:${key}`;
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

  private knownTopics(): Promise<string[]> {
    return this.connection.command('discover topics', () => this.connection.redis.smembers(this.connection.keys.topics));
  }

  private async ensureGroups(topics: string[], start: '$' | '0', again = false): Promise<void> {
    for (const topic of topics) {
      const key = this.connection.keys.stream(topic);
      if (this.streams.has(key) && !again) continue;
      await this.connection.command('create consumer group', async () => {
        try {
          await this.connection.redis.xgroup('CREATE', key, this.group, start, 'MKSTREAM');
        } catch (err) {
          if (!/BUSYGROUP/.test(reasonOf(err))) throw err;
        }
      });
      if (!this.streams.has(key)) this.streams.set(key, { topic, key, cursor: '0-0' });
    }
  }

  private onTopicAnnounced(topic: string): void {
    if (this.closed || !this.matcher.matches(topic) || this.streams.has(this.connection.keys.stream(topic))) return;
    this.topicsDirty = true;
    this.wake?.();
    // Wakes the blocking read (it returns as if timed out).
    if (this.reading && this.clientId !== undefined) {
      this.connection.redis.call('CLIENT', 'UNBLOCK', this.clientId).catch((err) => this.connection.report(err));
    }
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
