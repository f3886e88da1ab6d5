import { MessageHandler, NotifyListener, Subscription } from '../message-bus.port';
import { ResolvedSubscribeOptions } from '../subscribe-options';
import { TopicMatcher } from '../topic-matcher';
import { RedisNotifications } from './notifications';
import { RedisConnection } from './redis-connection';
import { RedisStreamSubscription } from './stream-subscription';
import { knownTopics } from './topics';

const DISCOVERY_EVERY_MS = 5_000;

/**
 * A subscription to every topic matching a pattern: one consumer (RedisStreamSubscription) per matching
 * topic, each on its own stream and connection, so that no read spans two slots of a cluster. Topics are
 * found in the registry when subscribing (their groups start after what they hold) and later from the
 * announcements of new topics or a periodic look at the registry (those start from their first message).
 */
export class RedisPatternSubscription implements Subscription {
  private readonly topics = new Map<string, Promise<RedisStreamSubscription | undefined>>();
  private readonly topicListener: NotifyListener = (topic) => this.onTopicAnnounced(topic);
  private closed = false;
  private discoveryDone?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly connection: RedisConnection,
    private readonly notifications: RedisNotifications,
    private readonly matcher: TopicMatcher,
    private readonly group: string,
    private readonly handler: MessageHandler,
    private readonly options: ResolvedSubscribeOptions,
    private readonly onClose: (subscription: RedisPatternSubscription) => void,
  ) {}

  /** Subscribes the topics that exist now; rejects when Redis cannot be reached. */
  async open(): Promise<void> {
    // Listen before listing, so that no topic falls between the two.
    await this.notifications.listen(this.connection.keys.topicsChannel, this.topicListener);
    const topics = (await knownTopics(this.connection)).filter((t) => this.matcher.matches(t));
    for (const topic of topics) {
      // Announced meanwhile (then it is new: consumed from its start).
      if (this.topics.has(topic)) continue;
      const consumer = new RedisStreamSubscription(this.connection, topic, this.group, this.handler, this.options, '$');
      this.topics.set(topic, Promise.resolve(consumer));
      await consumer.open();
    }
    this.discoveryDone = this.discover();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.onClose(this);
    await this.notifications.unlisten(this.connection.keys.topicsChannel, this.topicListener);
    await this.discoveryDone;
    const consumers = await Promise.all(this.topics.values());
    await Promise.all(consumers.map((c) => c?.close()));
  }

  /**
   * A consumer of a topic first seen after subscribing (created since: all of it is ours), unless there is
   * one already; resolves with undefined when Redis refused (the next discovery tries again).
   */
  private consume(topic: string): Promise<RedisStreamSubscription | undefined> {
    const existing = this.topics.get(topic);
    if (existing || this.closed) return existing ?? Promise.resolve(undefined);
    const consumer = new RedisStreamSubscription(this.connection, topic, this.group, this.handler, this.options, '0');
    const opened = consumer.open().then(
      () => consumer,
      async (err) => {
        this.topics.delete(topic);
        this.connection.report(err);
        await consumer.close();
        return undefined;
      },
    );
    this.topics.set(topic, opened);
    return opened;
  }

  /** Looks at the registry now and then: an announcement is best effort (sent while we were disconnected, say). */
  private async discover(): Promise<void> {
    while (!this.closed) {
      await this.pause(DISCOVERY_EVERY_MS);
      if (this.closed) return;
      try {
        for (const topic of await knownTopics(this.connection)) {
          if (this.closed) return;
          if (this.matcher.matches(topic)) await this.consume(topic);
        }
      } catch (err) {
        this.connection.report(err);
      }
    }
  }

  private onTopicAnnounced(topic: string): void {
    if (this.matcher.matches(topic)) void this.consume(topic);
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
    });
  }
}
