import { NotifyListener, Subscription } from '../message-bus.port';
import { assertName } from '../message-bus.validation';
import { RedisClient, RedisConnection, quit, unlessUnreachable } from './redis-connection';

/**
 * Wake-ups over Redis pub/sub (`<prefix>__notify:<channel>`), on one subscriber connection opened at the
 * first listener. Best effort: not durable, never rejects. Also carries the bus's own announcements of
 * new topics to pattern subscriptions. In a cluster, PUBLISH and SUBSCRIBE are cluster-wide: a message
 * published on any node reaches subscribers on every node, and ioredis moves the subscriber connection
 * (with its channels) to another node when its node goes away.
 */
export class RedisNotifications {
  private readonly channels = new Map<string, { listeners: Set<NotifyListener>; subscribed: Promise<void> }>();
  private subscriber?: RedisClient;

  constructor(private readonly connection: RedisConnection) {}

  async notify(channel: string, payload: string): Promise<void> {
    assertName('channel', channel);
    if (this.connection.isClosed || this.connection.isDown) return;
    try {
      await this.connection.redis.publish(this.connection.keys.notifyChannel(channel), payload);
    } catch (err) {
      this.connection.report(err);
    }
  }

  async onNotify(channel: string, listener: NotifyListener): Promise<Subscription> {
    this.connection.assertOpen();
    assertName('channel', channel);
    const key = this.connection.keys.notifyChannel(channel);
    const wrapped: NotifyListener = (payload) => listener(payload);
    await this.listen(key, wrapped);
    return { close: () => this.unlisten(key, wrapped) };
  }

  /**
   * Registers a listener of a Redis channel. Best effort like notify itself: when Redis is down the
   * listener stays registered and the channel is subscribed as soon as the connection is ready.
   */
  async listen(channel: string, listener: NotifyListener): Promise<void> {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), subscribed: this.subscribeChannel(channel) };
      this.channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    await entry.subscribed.catch((err) => this.connection.report(err));
  }

  async unlisten(channel: string, listener: NotifyListener): Promise<void> {
    const entry = this.channels.get(channel);
    if (!entry || !entry.listeners.delete(listener) || entry.listeners.size > 0) return;
    this.channels.delete(channel);
    if (this.connection.isClosed || this.subscriber?.status !== 'ready') return;
    await this.subscriber.unsubscribe(channel).catch((err) => this.connection.report(err));
  }

  async close(): Promise<void> {
    if (this.subscriber) await quit(this.subscriber);
  }

  private subscribeChannel(channel: string): Promise<void> {
    const subscriber = this.subscriberConnection();
    // A cluster client keeps the SUBSCRIBE until the cluster is back (and sends it then); the listener
    // does not wait for that.
    const subscribed = unlessUnreachable(subscriber, subscriber.subscribe(channel)).then(() => undefined);
    subscribed.catch(() => undefined);
    return subscribed;
  }

  private subscriberConnection(): RedisClient {
    if (!this.subscriber) {
      const subscriber = this.connection.duplicate({ connectionName: `${this.connection.keys.prefix}bus-notify` });
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
            this.connection.report(err);
          }
        }
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }
}
