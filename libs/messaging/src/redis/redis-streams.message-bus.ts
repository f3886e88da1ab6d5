import { randomUUID } from 'crypto';
import { Redis, RedisOptions } from 'ioredis';
import {
  DeadLetter,
  DeadLetterPage,
  DeadLetterQuery,
  MessageBus,
  MessageHandler,
  NotifyListener,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
} from '../message-bus.port';
import { MessagingError } from '../messaging.errors';
import {
  ResolvedSubscribeOptions,
  TopicMatcher,
  assertMessage,
  assertName,
  assertTopic,
  clampLimit,
  reasonOf,
  resolveSubscribeOptions,
  topicMatcher,
  unacknowledgedReason,
} from '../message-bus.helpers';

export interface RedisStreamsMessageBusOptions {
  /** Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Extra ioredis options, applied over the bus's own. */
  redis?: RedisOptions;
  /** Prefix of every key and channel of this bus (default `saga:`). */
  prefix?: string;
  /** Approximate length at which each topic stream is trimmed (`XADD MAXLEN ~`, default 100 000). */
  maxLen?: number;
  /** Approximate length at which the dead-letter stream is trimmed (default 100 000). */
  deadLetterMaxLen?: number;
  /** A command without a reply after this long fails (default 5 000); blocking reads are not concerned. */
  commandTimeoutMs?: number;
  /** Longest blocking read; bounds how late a reclaim or a new topic is noticed (default 2 000). */
  blockMs?: number;
  /** Cap of the exponential reconnect backoff (default 2 000). */
  maxReconnectDelayMs?: number;
  /** Connection and background errors (the bus recovers from them by itself); default: ignored. */
  onError?: (err: Error) => void;
}

type RawEntry = [id: string, fields: string[] | null];

interface StreamState {
  topic: string;
  key: string;
  /** XAUTOCLAIM cursor: a scan of the pending list goes on where the previous one stopped. */
  cursor: string;
}

interface Pending {
  stream: StreamState;
  id: string;
  fields: string[];
  deliveries: number;
}

const CLOSED = Symbol('closed');
const DISCOVERY_EVERY_MS = 5_000;

/*
 * XDEL decides who replays a dead letter: only the caller that removed it re-publishes it, in the same
 * atomic step, so concurrent replays of one dead letter publish it once.
 * KEYS: dead letters, topic stream, topic registry. ARGV: dead-letter id, maxLen, topic, fields...
 */
const REPLAY_SCRIPT = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
return redis.call('SADD', KEYS[3], ARGV[3])
`;

/*
 * A failed message stays pending; backdating its delivery (XCLAIM IDLE) makes XAUTOCLAIM, of any consumer of
 * the group, take it again after retryDelayMs instead of idleMs. JUSTID keeps the delivery count as it is.
 * Only while the failing consumer still owns it: a slow handler's message may have been reclaimed already.
 * KEYS: topic stream. ARGV: group, consumer, entry id, idle ms.
 */
const RETRY_SCRIPT = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'JUSTID')
return 1
`;

/**
 * MessageBus on Redis Streams: one stream per topic (`<prefix><topic>`), consumer groups, XREADGROUP on a
 * dedicated blocking connection per subscription, XAUTOCLAIM of messages left idle by dead or stuck consumers,
 * delivery counts from the pending entries list, and a dead-letter stream (`<prefix>__dead-letters`).
 *
 * Redis only distributes: when it is down, publish rejects at once (the caller retries from its checkpoint)
 * and subscriptions wait and resume when it is back; when it is flushed, groups are created again.
 * Topics are recorded in a set (`<prefix>__topics`) and announced on a channel so that pattern
 * subscriptions pick new ones up while subscribed.
 */
// XADD + SADD only while the epoch key still holds the publisher's epoch (one atomic step).
const PUBLISH_IF_EPOCH_SCRIPT = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return redis.error_reply('EPOCH_CHANGED') end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
return redis.call('SADD', KEYS[2], ARGV[3])
`;

export class RedisStreamsMessageBus implements MessageBus {
  /** @internal Shared connection for publishing, acknowledging and administration. */
  readonly redis: Redis;
  /** @internal */
  readonly prefix: string;
  /** @internal */
  readonly blockMs: number;
  /** @internal */
  readonly maxReconnectDelayMs: number;
  private readonly maxLen: number;
  private readonly deadLetterMaxLen: number;
  private readonly onError: (err: Error) => void;
  private readonly subscriptions = new Set<RedisStreamSubscription>();
  private readonly channels = new Map<string, { listeners: Set<NotifyListener>; subscribed: Promise<void> }>();
  private subscriber?: Redis;
  private everReady = false;
  private closed = false;

  constructor(options: RedisStreamsMessageBusOptions = {}) {
    this.prefix = options.prefix ?? 'saga:';
    this.maxLen = options.maxLen ?? 100_000;
    this.deadLetterMaxLen = options.deadLetterMaxLen ?? 100_000;
    this.blockMs = options.blockMs ?? 2_000;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2_000;
    this.onError = options.onError ?? (() => undefined);
    const maxDelay = this.maxReconnectDelayMs;
    this.redis = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 16), maxDelay) + Math.floor(Math.random() * 50),
      // A command caught by a disconnection fails at the first failed reconnect instead of waiting.
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      connectionName: `${this.prefix}bus`,
      ...options.redis,
    });
    this.watch(this.redis);
    this.redis.on('ready', () => (this.everReady = true));
  }

  async publish(topic: string, message: OutgoingMessage, options: { ifEpoch?: string } = {}): Promise<void> {
    assertTopic(topic);
    assertMessage(message);
    const fields = encodeMessage(message);
    if (options.ifEpoch !== undefined) {
      const ifEpoch = options.ifEpoch;
      const added = await this.command('publish', () =>
        this.redis.eval(PUBLISH_IF_EPOCH_SCRIPT, 3, this.streamKey(topic), this.topicsKey, `${this.prefix}epoch`, ifEpoch, this.maxLen, topic, ...fields),
      ).catch((err: unknown) => {
        if (/EPOCH_CHANGED/.test(String((err as { cause?: unknown }).cause ?? err))) {
          throw new MessagingError('EPOCH_CHANGED', 'the broker lost its data since the epoch was read');
        }
        throw err;
      });
      if (added === 1) this.announceTopic(topic);
      return;
    }
    const added = await this.command('publish', async () => {
      const results = await this.redis
        .multi()
        .xadd(this.streamKey(topic), 'MAXLEN', '~', this.maxLen, '*', ...fields)
        .sadd(this.topicsKey, topic)
        .exec();
      return execResults(results)[1];
    });
    if (added === 1) this.announceTopic(topic);
  }

  async subscribe(pattern: string, group: string, handler: MessageHandler, options?: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const matcher = topicMatcher(pattern);
    assertName('group', group);
    const subscription = new RedisStreamSubscription(this, matcher, group, handler, resolveSubscribeOptions(options));
    try {
      await subscription.start();
    } catch (err) {
      await subscription.close();
      throw err;
    }
    this.subscriptions.add(subscription);
    return subscription;
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const limit = clampLimit(query.limit);
    if (query.cursor !== undefined && !isStreamId(query.cursor)) {
      throw new MessagingError('INVALID_ARGUMENT', `invalid cursor ${JSON.stringify(query.cursor)}`);
    }
    // The topic filter runs here, so scan in pages larger than what is asked.
    const pageSize = query.topic === undefined ? limit : Math.max(limit, 200);
    const items: DeadLetter[] = [];
    let start = query.cursor === undefined ? '-' : `(${query.cursor}`;
    for (;;) {
      const page = (await this.command('listDeadLetters', () =>
        this.redis.xrange(this.deadLetterKey, start, '+', 'COUNT', pageSize),
      )) as RawEntry[];
      for (const [id, fields] of page) {
        start = `(${id}`;
        const dead = toDeadLetter(id, fields ?? []);
        if (query.topic !== undefined && dead.topic !== query.topic) continue;
        items.push(dead);
        if (items.length === limit) return { items, nextCursor: id };
      }
      if (page.length < pageSize) return { items };
    }
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    this.assertOpen();
    if (!isStreamId(id)) return false;
    const [entry] = (await this.command('replayDeadLetter', () => this.redis.xrange(this.deadLetterKey, id, id))) as RawEntry[];
    if (!entry) return false;
    const record = toRecord(entry[1] ?? []);
    const topic = record.topic;
    assertTopic(topic);
    const result = await this.command('replayDeadLetter', () =>
      this.redis.eval(
        REPLAY_SCRIPT,
        3,
        this.deadLetterKey,
        this.streamKey(topic),
        this.topicsKey,
        id,
        this.maxLen,
        topic,
        ...messageFieldsOf(record),
      ),
    );
    if (result === -1) return false;
    if (result === 1) this.announceTopic(topic);
    return true;
  }

  async epoch(): Promise<string> {
    const key = `${this.prefix}epoch`;
    return this.command('epoch', async () => {
      // The key disappears with a flush; the next caller sets a new value.
      await this.redis.set(key, randomUUID(), 'NX');
      return (await this.redis.get(key)) ?? '';
    });
  }

  async notify(channel: string, payload = ''): Promise<void> {
    assertName('channel', channel);
    if (this.closed || (this.everReady && this.redis.status !== 'ready')) return;
    try {
      await this.redis.publish(this.notifyChannel(channel), payload);
    } catch (err) {
      this.report(err);
    }
  }

  async onNotify(channel: string, listener: NotifyListener): Promise<Subscription> {
    this.assertOpen();
    assertName('channel', channel);
    const key = this.notifyChannel(channel);
    const wrapped: NotifyListener = (payload) => listener(payload);
    await this.listen(key, wrapped);
    return { close: () => this.unlisten(key, wrapped) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.subscriber) await quit(this.subscriber);
    await quit(this.redis);
  }

  // ---- internals shared with the subscriptions ----

  /** @internal */
  streamKey(topic: string): string {
    return `${this.prefix}${topic}`;
  }

  /** @internal */
  get topicsKey(): string {
    return `${this.prefix}__topics`;
  }

  /** @internal */
  get deadLetterKey(): string {
    return `${this.prefix}__dead-letters`;
  }

  /** @internal Channel on which a topic's first publication is announced to pattern subscriptions. */
  get topicsChannel(): string {
    return `${this.prefix}__topics`;
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Runs a broker call, failing at once while Redis is known to be down. */
  async command<T>(what: string, call: () => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.everReady && this.redis.status !== 'ready') {
      throw new MessagingError('BUS_UNAVAILABLE', `${what}: redis is ${this.redis.status}`);
    }
    try {
      return await call();
    } catch (err) {
      if (err instanceof MessagingError) throw err;
      throw new MessagingError('BUS_UNAVAILABLE', `${what}: ${reasonOf(err)}`, { cause: err });
    }
  }

  /** @internal */
  async knownTopics(): Promise<string[]> {
    return this.command('discover topics', () => this.redis.smembers(this.topicsKey));
  }

  /** @internal */
  async ack(stream: StreamState, group: string, id: string): Promise<void> {
    await this.redis.xack(stream.key, group, id);
  }

  /** @internal Makes a failed message due for redelivery after retryDelayMs. */
  async retryLater(stream: StreamState, group: string, consumer: string, id: string, idleMs: number, retryDelayMs: number): Promise<void> {
    await this.redis.eval(RETRY_SCRIPT, 1, stream.key, group, consumer, id, idleMs - retryDelayMs);
  }

  /** @internal Moves a message to the dead letters and acknowledges it, atomically. */
  async deadLetter(stream: StreamState, group: string, pending: Pending, reason: string, deliveries: number): Promise<void> {
    const results = await this.redis
      .multi()
      .xadd(
        this.deadLetterKey,
        'MAXLEN',
        '~',
        this.deadLetterMaxLen,
        '*',
        'topic',
        stream.topic,
        'group',
        group,
        'entry',
        pending.id,
        'reason',
        reason,
        'deliveries',
        deliveries,
        'at',
        new Date().toISOString(),
        ...pending.fields,
      )
      .xack(stream.key, group, pending.id)
      .exec();
    execResults(results);
  }

  /** @internal Wakes a subscription's blocking read (it returns as if timed out). */
  unblock(clientId: number): void {
    this.redis.call('CLIENT', 'UNBLOCK', clientId).catch((err) => this.report(err));
  }

  /**
   * @internal Registers a notify listener. Best effort like notify itself: when Redis is down the
   * listener stays registered and the channel is subscribed as soon as the connection is ready.
   */
  async listen(channel: string, listener: NotifyListener): Promise<void> {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), subscribed: this.subscribeChannel(channel) };
      this.channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    await entry.subscribed.catch((err) => this.report(err));
  }

  private subscribeChannel(channel: string): Promise<void> {
    const subscribed = this.notifications()
      .subscribe(channel)
      .then(() => undefined);
    subscribed.catch(() => undefined);
    return subscribed;
  }

  /** @internal */
  async unlisten(channel: string, listener: NotifyListener): Promise<void> {
    const entry = this.channels.get(channel);
    if (!entry || !entry.listeners.delete(listener) || entry.listeners.size > 0) return;
    this.channels.delete(channel);
    if (this.closed || this.subscriber?.status !== 'ready') return;
    await this.subscriber.unsubscribe(channel).catch((err) => this.report(err));
  }

  /** @internal */
  forget(subscription: RedisStreamSubscription): void {
    this.subscriptions.delete(subscription);
  }

  /** @internal */
  watch(connection: Redis): void {
    // Without a listener ioredis prints every connection error; they are expected while Redis is down.
    connection.on('error', (err: Error) => this.report(err));
  }

  /** @internal */
  report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // An error reporter that throws must not stop the bus.
    }
  }

  private notifications(): Redis {
    if (!this.subscriber) {
      const subscriber = this.redis.duplicate({ connectionName: `${this.prefix}bus-notify` });
      this.watch(subscriber);
      // Channels whose SUBSCRIBE failed (Redis was down) are subscribed again once it is back;
      // re-subscribing a channel already subscribed is harmless.
      subscriber.on('ready', () => {
        for (const [channel, entry] of this.channels) entry.subscribed = this.subscribeChannel(channel);
      });
      subscriber.on('message', (channel: string, payload: string) => {
        for (const listener of this.channels.get(channel)?.listeners ?? []) {
          try {
            listener(payload);
          } catch (err) {
            this.report(err);
          }
        }
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }

  private announceTopic(topic: string): void {
    this.redis.publish(this.topicsChannel, topic).catch((err) => this.report(err));
  }

  private notifyChannel(channel: string): string {
    return `${this.prefix}__notify:${channel}`;
  }

  private assertOpen(): void {
    if (this.closed) throw new MessagingError('BUS_CLOSED', 'the message bus is closed');
  }
}

/**
 * One consumer of one group, with its own blocking connection. Each turn of its loop: discover new
 * topics (patterns), reclaim messages idle for idleMs (every idleMs / 2, or when a retry is due), else
 * block on XREADGROUP for new ones. A batch is handled concurrently across keys, in order within a key.
 */
class RedisStreamSubscription implements Subscription {
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
    private readonly bus: RedisStreamsMessageBus,
    private readonly matcher: TopicMatcher,
    private readonly group: string,
    private readonly handler: MessageHandler,
    private readonly options: ResolvedSubscribeOptions,
  ) {
    this.reclaimEveryMs = Math.min(Math.max(Math.floor(options.idleMs / 2), 10), 5_000);
    this.closedSignal = new Promise((resolve) => (this.signalClosed = () => resolve(CLOSED)));
    this.conn = bus.redis.duplicate({
      // Blocking reads wait for Redis to come back rather than fail.
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      connectionName: `${bus.prefix}${group}:${options.consumer}`,
    });
    bus.watch(this.conn);
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
      await this.bus.listen(this.bus.topicsChannel, this.topicListener);
      topics = (await this.bus.knownTopics()).filter((t) => this.matcher.matches(t));
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
    this.bus.forget(this);
    if (!this.matcher.exact) await this.bus.unlisten(this.bus.topicsChannel, this.topicListener);
    this.conn.disconnect();
    await this.loopDone;
    await this.removeConsumerIfIdle();
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
        this.bus.report(err);
        backoff = Math.min(backoff ? backoff * 2 : 50, this.bus.maxReconnectDelayMs);
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
      const known = await this.bus.knownTopics();
      // A topic first seen now was created after we subscribed: all of it is ours.
      await this.ensureGroups(known.filter((t) => this.matcher.matches(t)), '0');
    }
    if (Date.now() >= this.nextReclaimAt && this.streams.size > 0) {
      const reclaimed = await this.reclaim();
      if (reclaimed.length > 0) return this.handleBatch(reclaimed);
    }
    if (this.closed) return;
    const now = Date.now();
    let wait = Math.min(this.bus.blockMs, this.nextReclaimAt - now);
    if (!this.matcher.exact) wait = Math.min(wait, this.nextDiscoveryAt - now);
    wait = Math.max(1, wait);
    if (this.streams.size === 0) return this.pause(wait);
    const keys = [...this.streams.keys()];
    this.reading = true;
    let reply: unknown;
    try {
      reply = await this.conn.xreadgroup(
        'GROUP',
        this.group,
        this.options.consumer,
        'COUNT',
        this.options.batchSize,
        'BLOCK',
        wait,
        'STREAMS',
        ...keys,
        ...keys.map(() => '>'),
      );
    } finally {
      this.reading = false;
    }
    const batch: Pending[] = [];
    for (const [key, entries] of streamsOf(reply)) {
      const stream = this.streams.get(key);
      if (!stream) continue;
      for (const [id, fields] of entries) if (fields) batch.push({ stream, id, fields, deliveries: 1 });
    }
    if (batch.length > 0) await this.handleBatch(batch);
  }

  /** Takes over the messages of this group left unacknowledged for idleMs, with their delivery counts. */
  private async reclaim(): Promise<Pending[]> {
    const { idleMs, batchSize, consumer } = this.options;
    const streams = [...this.streams.values()];
    const claims = this.conn.pipeline();
    for (const s of streams) claims.xautoclaim(s.key, this.group, consumer, idleMs, s.cursor, 'COUNT', batchSize);
    const replies = execResults(await claims.exec()) as [string, RawEntry[]][];
    let more = false;
    const claimed: Pending[] = [];
    const vanished: Pending[] = [];
    replies.forEach(([cursor, entries], i) => {
      const stream = streams[i];
      stream.cursor = cursor;
      if (cursor !== '0-0') more = true;
      for (const [id, fields] of entries) {
        // Redis 6.2 still lists entries trimmed from the stream: nothing left to deliver.
        if (fields) claimed.push({ stream, id, fields, deliveries: 0 });
        else vanished.push({ stream, id, fields: [], deliveries: 0 });
      }
    });
    for (const v of vanished) await this.bus.ack(v.stream, this.group, v.id);
    this.nextReclaimAt = Date.now() + (more ? 0 : this.reclaimEveryMs);
    if (claimed.length === 0) return [];
    const counts = this.conn.pipeline();
    for (const c of claimed) counts.xpending(c.stream.key, this.group, c.id, c.id, 1);
    const pending = execResults(await counts.exec()) as [string, string, number, number][][];
    return claimed.filter((c, i) => {
      const [row] = pending[i];
      // Acknowledged or taken by another consumer in the meantime: not ours to deliver.
      if (!row || row[1] !== consumer) return false;
      c.deliveries = Number(row[3]);
      return true;
    });
  }

  private async handleBatch(batch: Pending[]): Promise<void> {
    const lanes = new Map<string, Pending[]>();
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

  private async handle(p: Pending): Promise<void> {
    const { maxDeliveries, idleMs, retryDelayMs, consumer } = this.options;
    this.inFlight++;
    try {
      if (p.deliveries > maxDeliveries) {
        // Failed deliveries are dead-lettered as they fail; this one was reclaimed from a consumer that never answered.
        await this.bus.deadLetter(p.stream, this.group, p, unacknowledgedReason(p.deliveries - 1), p.deliveries - 1);
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
        await this.bus.ack(p.stream, this.group, p.id);
      } else if (p.deliveries >= maxDeliveries) {
        await this.bus.deadLetter(p.stream, this.group, p, failure, p.deliveries);
      } else {
        await this.bus.retryLater(p.stream, this.group, consumer, p.id, idleMs, retryDelayMs);
        p.stream.cursor = '0-0';
        this.nextReclaimAt = Math.min(this.nextReclaimAt, Date.now() + retryDelayMs);
      }
    } catch (err) {
      // Not acknowledged: the message comes back after idleMs.
      this.bus.report(err);
    } finally {
      this.inFlight--;
    }
  }

  private async ensureGroups(topics: string[], start: '$' | '0', again = false): Promise<void> {
    for (const topic of topics) {
      const key = this.bus.streamKey(topic);
      if (this.streams.has(key) && !again) continue;
      await this.bus.command('create consumer group', async () => {
        try {
          await this.bus.redis.xgroup('CREATE', key, this.group, start, 'MKSTREAM');
        } catch (err) {
          if (!/BUSYGROUP/.test(reasonOf(err))) throw err;
        }
      });
      if (!this.streams.has(key)) this.streams.set(key, { topic, key, cursor: '0-0' });
    }
  }

  private onTopicAnnounced(topic: string): void {
    if (this.closed || !this.matcher.matches(topic) || this.streams.has(this.bus.streamKey(topic))) return;
    this.topicsDirty = true;
    this.wake?.();
    if (this.reading && this.clientId !== undefined) this.bus.unblock(this.clientId);
  }

  /** A consumer that owns nothing can go; one that still owns messages stays so that they can be reclaimed. */
  private async removeConsumerIfIdle(): Promise<void> {
    if (this.inFlight > 0 || this.bus.isClosed || this.bus.redis.status !== 'ready' || this.streams.size === 0) return;
    try {
      const streams = [...this.streams.values()];
      const check = this.bus.redis.pipeline();
      for (const s of streams) check.xpending(s.key, this.group, '-', '+', 1, this.options.consumer);
      const owned = execResults(await check.exec()) as unknown[][];
      if (owned.some((rows) => rows.length > 0)) return;
      const remove = this.bus.redis.pipeline();
      for (const s of streams) remove.call('XGROUP', 'DELCONSUMER', s.key, this.group, this.options.consumer);
      await remove.exec();
    } catch (err) {
      this.bus.report(err);
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

function encodeMessage(message: OutgoingMessage): string[] {
  let payload: string;
  try {
    payload = JSON.stringify(message.payload ?? null);
  } catch (err) {
    throw new MessagingError('INVALID_ARGUMENT', `payload is not serialisable: ${reasonOf(err)}`);
  }
  const fields = ['id', message.id, 'payload', payload, 'headers', JSON.stringify(message.headers ?? {})];
  if (message.key !== undefined) fields.push('key', message.key);
  return fields;
}

function decodeMessage(fields: string[]): DeadLetter['message'] {
  const record = toRecord(fields);
  if (!record.id) throw new Error('malformed message: no id');
  const message: DeadLetter['message'] = {
    id: record.id,
    payload: JSON.parse(record.payload ?? 'null'),
    headers: JSON.parse(record.headers ?? '{}'),
  };
  if (record.key !== undefined) message.key = record.key;
  return message;
}

function messageFieldsOf(record: Record<string, string>): string[] {
  const fields = ['id', record.id, 'payload', record.payload ?? 'null', 'headers', record.headers ?? '{}'];
  if (record.key !== undefined) fields.push('key', record.key);
  return fields;
}

function toDeadLetter(id: string, fields: string[]): DeadLetter {
  const record = toRecord(fields);
  let message: DeadLetter['message'];
  try {
    message = decodeMessage(fields);
  } catch {
    message = { id: record.id ?? '', payload: record.payload ?? null, headers: {} };
  }
  return {
    id,
    topic: record.topic,
    group: record.group,
    message,
    reason: record.reason,
    deliveries: Number(record.deliveries),
    at: record.at,
  };
}

function toRecord(fields: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]] = fields[i + 1];
  return record;
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
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

/** The replies of a pipeline or transaction, throwing the first error among them. */
function execResults(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}

function isStreamId(id: string): boolean {
  return typeof id === 'string' && /^\d+-\d+$/.test(id);
}

async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // Fall through: drop the connection.
    }
  }
  connection.disconnect();
}
