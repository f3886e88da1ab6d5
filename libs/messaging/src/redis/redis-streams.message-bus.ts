import {
  DeadLetterPage,
  DeadLetterQuery,
  MessageBus,
  MessageHandler,
  NotifyListener,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
} from '../message-bus.port';
import { assertName } from '../message-bus.validation';
import { resolveSubscribeOptions } from '../subscribe-options';
import { topicMatcher } from '../topic-matcher';
import { listDeadLetters, replayDeadLetter } from './dead-letters';
import { BusEpoch } from './epoch';
import { RedisNotifications } from './notifications';
import { RedisPatternSubscription } from './pattern-subscription';
import { publish } from './publish';
import { RedisConnection, RedisStreamsMessageBusOptions } from './redis-connection';
import { RedisStreamSubscription } from './stream-subscription';

export type { RedisStreamsMessageBusOptions } from './redis-connection';

/**
 * MessageBus on Redis Streams: one stream per topic (`<prefix><topic>`), consumer groups, XREADGROUP on a
 * dedicated blocking connection per subscription and topic, XAUTOCLAIM of messages left idle by dead or
 * stuck consumers, delivery counts from the pending entries list, and a dead-letter stream
 * (`<prefix>__dead-letters`). One server (`redis://`) or a Redis Cluster (`redis+cluster://`), whose keys
 * are hash-tagged so that every command and script touches one slot (see BusKeys).
 *
 * Redis only distributes: when it is down, publish rejects at once (the caller retries from its checkpoint)
 * and subscriptions wait and resume when it is back; when it (or a cluster node) loses its data, groups are
 * created again and the epoch changes. Topics are recorded in a registry (`<prefix>__topics`) and announced
 * on a channel so that pattern subscriptions pick new ones up while subscribed.
 *
 * The rooms: `redis-url` (server or cluster), `redis-connection` (connections, keys), `epoch`, `publish`,
 * `topics` (registry), `stream-subscription` (one topic's consumer: group and reading), `pattern-subscription`
 * (one consumer per matching topic), `claims` (acknowledgement, redelivery, claiming from dead consumers),
 * `dead-letters`, `notifications` (pub/sub wake-ups); the codec and the delivery rule are the in-memory bus's too.
 */
export class RedisStreamsMessageBus implements MessageBus {
  /** Prefix of every key and channel of this bus. */
  readonly prefix: string;
  private readonly connection: RedisConnection;
  private readonly notifications: RedisNotifications;
  private readonly epochs: BusEpoch;
  private readonly subscriptions = new Set<RedisStreamSubscription | RedisPatternSubscription>();

  constructor(options: RedisStreamsMessageBusOptions = {}) {
    this.connection = new RedisConnection(options);
    this.prefix = this.connection.keys.prefix;
    this.notifications = new RedisNotifications(this.connection);
    this.epochs = new BusEpoch(this.connection);
  }

  publish(topic: string, message: OutgoingMessage, options: { ifEpoch?: string } = {}): Promise<void> {
    return publish(this.connection, this.epochs, topic, message, options.ifEpoch);
  }

  async subscribe(pattern: string, group: string, handler: MessageHandler, options?: SubscribeOptions): Promise<Subscription> {
    this.connection.assertOpen();
    const matcher = topicMatcher(pattern);
    assertName('group', group);
    const resolved = resolveSubscribeOptions(options);
    const onClose = (closed: RedisStreamSubscription | RedisPatternSubscription) => this.subscriptions.delete(closed);
    const subscription = matcher.exact
      ? new RedisStreamSubscription(this.connection, matcher.exact, group, handler, resolved, '$', onClose)
      : new RedisPatternSubscription(this.connection, this.notifications, matcher, group, handler, resolved, onClose);
    try {
      await subscription.open();
    } catch (err) {
      await subscription.close();
      throw err;
    }
    this.subscriptions.add(subscription);
    return subscription;
  }

  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    return listDeadLetters(this.connection, query);
  }

  replayDeadLetter(id: string): Promise<boolean> {
    return replayDeadLetter(this.connection, id);
  }

  epoch(): Promise<string> {
    return this.epochs.read();
  }

  notify(channel: string, payload = ''): Promise<void> {
    return this.notifications.notify(channel, payload);
  }

  onNotify(channel: string, listener: NotifyListener): Promise<Subscription> {
    return this.notifications.onNotify(channel, listener);
  }

  async close(): Promise<void> {
    if (this.connection.isClosed) return;
    this.connection.markClosed();
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.notifications.close();
    await this.connection.quit();
  }
}
