import { randomUUID } from 'crypto';
import { Redis, RedisOptions } from 'ioredis';
import { MessagingError, reasonOf } from '../messaging.errors';

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

/** The keys and channels of one bus, all under its prefix. */
export class BusKeys {
  constructor(readonly prefix: string) {}

  /** The stream of a topic. */
  stream(topic: string): string {
    return `${this.prefix}${topic}`;
  }

  /** Set of the topics ever published: what pattern subscriptions discover. */
  get topics(): string {
    return `${this.prefix}__topics`;
  }

  /** Channel on which a topic's first publication is announced to pattern subscriptions. */
  get topicsChannel(): string {
    return `${this.prefix}__topics`;
  }

  get deadLetters(): string {
    return `${this.prefix}__dead-letters`;
  }

  get epoch(): string {
    return `${this.prefix}epoch`;
  }

  notifyChannel(channel: string): string {
    return `${this.prefix}__notify:${channel}`;
  }
}

/**
 * The bus's shared connection (publishing, acknowledging, administration) with what every part of the
 * bus needs around it: its keys and limits, failing fast while Redis is known to be down, error reports,
 * the epoch. Redis only distributes: when it is down, commands reject at once and callers retry.
 */
export class RedisConnection {
  readonly redis: Redis;
  readonly keys: BusKeys;
  readonly maxLen: number;
  readonly deadLetterMaxLen: number;
  readonly blockMs: number;
  readonly maxReconnectDelayMs: number;
  private readonly onError: (err: Error) => void;
  private everReady = false;
  private closed = false;

  constructor(options: RedisStreamsMessageBusOptions) {
    this.keys = new BusKeys(options.prefix ?? 'saga:');
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
      connectionName: `${this.keys.prefix}bus`,
      ...options.redis,
    });
    this.watch(this.redis);
    this.redis.on('ready', () => (this.everReady = true));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Redis was reached once and is not now (before the first connection, commands wait for it). */
  get isDown(): boolean {
    return this.everReady && this.redis.status !== 'ready';
  }

  assertOpen(): void {
    if (this.closed) throw new MessagingError('BUS_CLOSED', 'the message bus is closed');
  }

  /** Runs a broker call, failing at once while Redis is known to be down. */
  async command<T>(what: string, call: () => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.isDown) {
      throw new MessagingError('BUS_UNAVAILABLE', `${what}: redis is ${this.redis.status}`);
    }
    try {
      return await call();
    } catch (err) {
      if (err instanceof MessagingError) throw err;
      throw new MessagingError('BUS_UNAVAILABLE', `${what}: ${reasonOf(err)}`, { cause: err });
    }
  }

  /** A further connection to the same Redis, its errors reported. */
  duplicate(options: RedisOptions): Redis {
    const connection = this.redis.duplicate(options);
    this.watch(connection);
    return connection;
  }

  report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // An error reporter that throws must not stop the bus.
    }
  }

  /** See MessageBus.epoch: a random value kept in Redis, gone with its data. */
  async epoch(): Promise<string> {
    const key = this.keys.epoch;
    return this.command('epoch', async () => {
      // The key disappears with a flush; the next caller sets a new value.
      await this.redis.set(key, randomUUID(), 'NX');
      return (await this.redis.get(key)) ?? '';
    });
  }

  /** From now on commands reject with BUS_CLOSED; `quit` ends the connection once the rest is closed. */
  markClosed(): void {
    this.closed = true;
  }

  quit(): Promise<void> {
    return quit(this.redis);
  }

  private watch(connection: Redis): void {
    // Without a listener ioredis prints every connection error; they are expected while Redis is down.
    connection.on('error', (err: Error) => this.report(err));
  }
}

/** The replies of a pipeline or transaction, throwing the first error among them. */
export function execResults(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}

export async function quit(connection: Redis): Promise<void> {
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
