import { MessageBus } from './message-bus.port';
import { InMemoryMessageBus } from './memory/in-memory.message-bus';
import { RedisStreamsMessageBus, RedisStreamsMessageBusOptions } from './redis/redis-streams.message-bus';

export interface CreateMessageBusOptions {
  /**
   * Redis Streams when given: one server (`redis://`, `rediss://`) or a Redis Cluster
   * (`redis+cluster://host:port?node=host:port…`, `rediss+cluster://`); otherwise the in-memory bus (one process).
   */
  redisUrl?: string;
  /** Key prefix of the Redis bus (default `saga:`). */
  prefix?: string;
  onError?: RedisStreamsMessageBusOptions['onError'];
}

/** The bus the configuration asks for: Redis when a URL is given, else in memory. */
export function createMessageBus(options: CreateMessageBusOptions = {}): MessageBus {
  if (options.redisUrl) {
    return new RedisStreamsMessageBus({ url: options.redisUrl, prefix: options.prefix, onError: options.onError });
  }
  return new InMemoryMessageBus();
}
