import { randomUUID } from 'crypto';
import {
  DeadLetter,
  DeadLetterPage,
  DeadLetterQuery,
  DeliveredMessage,
  MessageBus,
  MessageHandler,
  NotifyListener,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
} from '../message-bus.port';
import { MessagingError, reasonOf } from '../messaging.errors';
import { shouldDeadLetter, unacknowledgedReason } from '../delivery-rule';
import { decodeMessage, encodeMessage } from '../message.codec';
import { assertMessage, assertName, clampLimit } from '../message-bus.validation';
import { ResolvedSubscribeOptions, resolveSubscribeOptions } from '../subscribe-options';
import { TopicMatcher, topicMatcher } from '../topic-matcher';

export interface InMemoryMessageBusOptions {
  /** Undelivered messages kept per group; the oldest are dropped beyond it (default 100 000). */
  maxLen?: number;
  /** Dead letters kept; the oldest are dropped beyond it (default 100 000). */
  deadLetterMaxLen?: number;
}

interface Entry {
  seq: number;
  topic: string;
  /** The message as the Redis bus stores it (see message.codec): it crosses this bus serialised too. */
  fields: string[];
  /** Deliveries to the group so far, none acknowledged. */
  deliveries: number;
}

/** One consumer group on one topic: what is waiting, and what is out with which consumer. */
class GroupQueue {
  readonly ready: Entry[] = [];
  readonly inflight = new Map<Entry, { consumer: MemoryConsumer; timer: NodeJS.Timeout }>();
  readonly consumers = new Set<MemoryConsumer>();

  constructor(
    readonly topic: string,
    readonly group: string,
  ) {}

  /** Puts an entry back in sequence order, so that retried messages keep their relative order. */
  putBack(entry: Entry): void {
    let i = 0;
    while (i < this.ready.length && this.ready[i].seq < entry.seq) i++;
    this.ready.splice(i, 0, entry);
    this.signal();
  }

  signal(): void {
    for (const consumer of this.consumers) consumer.signal();
  }
}

/**
 * Single-process MessageBus with the semantics of the Redis adapter: consumer groups, at-least-once
 * delivery, redelivery after a failure or after `idleMs` without an acknowledgement, dead letters after
 * `maxDeliveries`, patterns. Used when no Redis is configured and in unit tests.
 */
export class InMemoryMessageBus implements MessageBus {
  private readonly topics = new Map<string, Map<string, GroupQueue>>();
  /** Topics published at least once: what pattern subscriptions see (the topic registry of the Redis bus). */
  private readonly published = new Set<string>();
  private readonly consumers = new Set<MemoryConsumer>();
  private readonly deadLetters: DeadLetter[] = [];
  private readonly listeners = new Map<string, Set<NotifyListener>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly maxLen: number;
  private readonly deadLetterMaxLen: number;
  private seq = 0;
  private deadLetterSeq = 0;
  private closed = false;

  constructor(options: InMemoryMessageBusOptions = {}) {
    this.maxLen = options.maxLen ?? 100_000;
    this.deadLetterMaxLen = options.deadLetterMaxLen ?? 100_000;
  }

  async publish(topic: string, message: OutgoingMessage, options: { ifEpoch?: string } = {}): Promise<void> {
    this.assertOpen();
    if (options.ifEpoch !== undefined && options.ifEpoch !== this.epochValue) {
      throw new MessagingError('EPOCH_CHANGED', 'the broker lost its data since the epoch was read');
    }
    assertName('topic', topic);
    assertMessage(message);
    const fields = encodeMessage(message);
    if (!this.published.has(topic)) {
      this.published.add(topic);
      // A pattern subscription covers a new topic from its first message.
      for (const consumer of this.consumers) {
        if (consumer.matcher.matches(topic)) consumer.attach(this.groupQueue(topic, consumer.group));
      }
    }
    for (const queue of this.topics.get(topic)?.values() ?? []) {
      queue.ready.push({ seq: ++this.seq, topic, fields, deliveries: 0 });
      if (queue.ready.length > this.maxLen) queue.ready.shift();
      queue.signal();
    }
  }

  async subscribe(pattern: string, group: string, handler: MessageHandler, options?: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const matcher = topicMatcher(pattern);
    assertName('group', group);
    const consumer = new MemoryConsumer(this, matcher, group, handler, resolveSubscribeOptions(options));
    // A group starts at the end of the topics that exist now; a topic subscribed to by name exists from now on.
    const topics = matcher.exact ? [matcher.exact] : [...this.published].filter((t) => matcher.matches(t));
    for (const topic of topics) consumer.attach(this.groupQueue(topic, group));
    this.consumers.add(consumer);
    void consumer.run();
    return consumer;
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const limit = clampLimit(query.limit);
    if (query.cursor !== undefined && !/^\d+$/.test(query.cursor)) {
      throw new MessagingError('INVALID_ARGUMENT', `invalid cursor ${JSON.stringify(query.cursor)}`);
    }
    const after = query.cursor === undefined ? 0 : Number(query.cursor);
    const items = this.deadLetters
      .filter((d) => Number(d.id) > after && (query.topic === undefined || d.topic === query.topic))
      .slice(0, limit)
      .map(cloneDeadLetter);
    return items.length === limit ? { items, nextCursor: items[items.length - 1].id } : { items };
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    this.assertOpen();
    const index = this.deadLetters.findIndex((d) => d.id === id);
    if (index < 0) return false;
    const [dead] = this.deadLetters.splice(index, 1);
    await this.publish(dead.topic, dead.message);
    return true;
  }

  private readonly epochValue = randomUUID();

  /** Memory is lost only with the process, and with it every publisher: a constant. */
  async epoch(): Promise<string> {
    return this.epochValue;
  }

  async notify(channel: string, payload = ''): Promise<void> {
    assertName('channel', channel);
    if (this.closed) return;
    for (const listener of this.listeners.get(channel) ?? []) {
      queueMicrotask(() => {
        try {
          listener(payload);
        } catch {
          // A listener's failure is its own; the other listeners still hear the notification.
        }
      });
    }
  }

  async onNotify(channel: string, listener: NotifyListener): Promise<Subscription> {
    this.assertOpen();
    assertName('channel', channel);
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    const listeners = set;
    listeners.add(listener);
    return { close: async () => void listeners.delete(listener) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of [...this.consumers]) await consumer.close();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const groups of this.topics.values()) {
      for (const queue of groups.values()) for (const { timer } of queue.inflight.values()) clearTimeout(timer);
    }
    this.listeners.clear();
  }

  /** @internal */
  forget(consumer: MemoryConsumer): void {
    this.consumers.delete(consumer);
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal A delivery whose consumer went quiet for idleMs goes back to the group. */
  reclaimLater(queue: GroupQueue, entry: Entry, consumer: MemoryConsumer, idleMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (queue.inflight.get(entry)?.consumer !== consumer) return;
      queue.inflight.delete(entry);
      queue.putBack(entry);
    }, idleMs);
    // Bookkeeping must not keep a process alive that is otherwise done.
    timer.unref();
    return timer;
  }

  /** @internal */
  retryLater(queue: GroupQueue, entry: Entry, delayMs: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      queue.putBack(entry);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** @internal */
  deadLetter(queue: GroupQueue, entry: Entry, reason: string, deliveries: number): void {
    this.deadLetters.push({
      id: String(++this.deadLetterSeq),
      topic: queue.topic,
      group: queue.group,
      message: decodeMessage(entry.fields),
      reason,
      deliveries,
      at: new Date().toISOString(),
    });
    if (this.deadLetters.length > this.deadLetterMaxLen) this.deadLetters.shift();
  }

  private groupQueue(topic: string, group: string): GroupQueue {
    let groups = this.topics.get(topic);
    if (!groups) this.topics.set(topic, (groups = new Map()));
    let queue = groups.get(group);
    if (!queue) groups.set(group, (queue = new GroupQueue(topic, group)));
    return queue;
  }

  private assertOpen(): void {
    if (this.closed) throw new MessagingError('BUS_CLOSED', 'the message bus is closed');
  }
}

/** One subscription: a single consumer that handles one message at a time, across its topics in turn. */
class MemoryConsumer implements Subscription {
  private readonly queues: GroupQueue[] = [];
  private wake?: () => void;
  private next = 0;
  private closed = false;

  constructor(
    private readonly bus: InMemoryMessageBus,
    readonly matcher: TopicMatcher,
    readonly group: string,
    private readonly handler: MessageHandler,
    private readonly options: ResolvedSubscribeOptions,
  ) {}

  attach(queue: GroupQueue): void {
    if (this.queues.includes(queue)) return;
    this.queues.push(queue);
    queue.consumers.add(this);
    this.signal();
  }

  signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async run(): Promise<void> {
    while (!this.closed) {
      const taken = this.take();
      if (taken) await this.deliver(taken.queue, taken.entry);
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.queues) queue.consumers.delete(this);
    this.bus.forget(this);
    this.signal();
  }

  private take(): { queue: GroupQueue; entry: Entry } | undefined {
    for (let i = 0; i < this.queues.length; i++) {
      const queue = this.queues[(this.next + i) % this.queues.length];
      const entry = queue.ready.shift();
      if (entry) {
        this.next = (this.next + i + 1) % this.queues.length;
        return { queue, entry };
      }
    }
    return undefined;
  }

  private async deliver(queue: GroupQueue, entry: Entry): Promise<void> {
    const { maxDeliveries, idleMs, retryDelayMs } = this.options;
    if (shouldDeadLetter(entry.deliveries, maxDeliveries)) {
      // Only a reclaimed message gets here: failed deliveries are dead-lettered as they fail.
      this.bus.deadLetter(queue, entry, unacknowledgedReason(entry.deliveries), entry.deliveries);
      return;
    }
    entry.deliveries++;
    queue.inflight.set(entry, { consumer: this, timer: this.bus.reclaimLater(queue, entry, this, idleMs) });
    let failure: string | undefined;
    try {
      await this.handler(toDelivered(entry));
    } catch (err) {
      failure = reasonOf(err);
    }
    const held = queue.inflight.get(entry);
    // Reclaimed while the handler ran: the consumer that has it now decides.
    if (held?.consumer !== this) return;
    clearTimeout(held.timer);
    queue.inflight.delete(entry);
    if (failure === undefined) return;
    if (shouldDeadLetter(entry.deliveries, maxDeliveries)) this.bus.deadLetter(queue, entry, failure, entry.deliveries);
    else this.bus.retryLater(queue, entry, retryDelayMs);
  }
}

function toDelivered(entry: Entry): DeliveredMessage {
  return { ...decodeMessage(entry.fields), topic: entry.topic, deliveries: entry.deliveries };
}

function cloneDeadLetter(dead: DeadLetter): DeadLetter {
  return { ...dead, message: JSON.parse(JSON.stringify(dead.message)) };
}
