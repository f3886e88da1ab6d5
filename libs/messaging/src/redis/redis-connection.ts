import { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { MessagingError, reasonOf } from '../messaging.errors';
import { parseRedisUrl, RedisTarget } from './redis-url';

export interface RedisStreamsMessageBusOptions {
  /**
   * Default `redis://127.0.0.1:6379`. A Redis Cluster is named by
   * `redis+cluster://[user:password@]host:port[?node=host:port&…]` (`rediss+cluster://` for TLS).
   */
  url?: string;
  /** Extra ioredis options, applied over the bus's own (in a cluster: to every node's connection). */
  redis?: RedisOptions;
  /** Prefix of every key and channel of this bus (default `saga:`). */
  prefix?: string;
  /** Approximate length at which each topic stream is trimmed (`XADD MAXLEN ~`, default 100 000). */
  maxLen?: number;
  /** Approximate length at which the dead-letter stream is trimmed (default 100 000). */
  deadLetterMaxLen?: number;
  /** A command without a reply after this long fails (default 5 000); blocking reads are not concerned. */
  commandTimeoutMs?: number;
  /** Longest blocking read; bounds how late a reclaim is noticed (default 2 000). */
  blockMs?: number;
  /** Cap of the exponential reconnect backoff (default 2 000). */
  maxReconnectDelayMs?: number;
  /** Connection and background errors (the bus recovers from them by itself); default: ignored. */
  onError?: (err: Error) => void;
}

/** A connection to one Redis server or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * The keys and channels of one bus, all under its prefix.
 *
 * On one server: `<prefix><topic>` per topic, `<prefix>__topics`, `<prefix>__dead-letters`, `<prefix>epoch`.
 * In a cluster every key is hash-tagged so that what one command or script touches lives on one slot:
 * a topic's stream and its epoch stamp on the topic's slot (`<prefix>{<topic>}`, `<prefix>{<topic>}:epoch`),
 * the bus's own keys on one fixed slot (`<prefix>{__meta}:topics`, `:dead-letters`, `:epoch`, `:replaying:<id>`).
 * Topics cannot start with `__`, so `{__meta}` is no topic's tag. (In an evenly split 3-master cluster its
 * slot, 11657, and `saga.events`'s, 6959, are on different masters.) Channels are not keys: pub/sub is
 * cluster-wide.
 */
export class BusKeys {
  constructor(
    readonly prefix: string,
    readonly cluster = false,
  ) {}

  /** The stream of a topic. */
  stream(topic: string): string {
    return this.cluster ? `${this.prefix}{${topic}}` : `${this.prefix}${topic}`;
  }

  /** Cluster only: the topic's epoch stamp, beside its stream (see `epoch.ts`). */
  topicEpoch(topic: string): string {
    return `${this.stream(topic)}:epoch`;
  }

  /** The topics ever published (a set; in a cluster a hash topic → epoch stamp): what pattern subscriptions discover. */
  get topics(): string {
    return this.cluster ? `${this.prefix}{__meta}:topics` : `${this.prefix}__topics`;
  }

  get deadLetters(): string {
    return this.cluster ? `${this.prefix}{__meta}:dead-letters` : `${this.prefix}__dead-letters`;
  }

  get epoch(): string {
    return this.cluster ? `${this.prefix}{__meta}:epoch` : `${this.prefix}epoch`;
  }

  /** Cluster only: held while one caller replays the dead letter `id`. */
  replaying(id: string): string {
    return `${this.prefix}{__meta}:replaying:${id}`;
  }

  /** Channel on which a topic's first publication is announced to pattern subscriptions. */
  get topicsChannel(): string {
    return `${this.prefix}__topics`;
  }

  notifyChannel(channel: string): string {
    return `${this.prefix}__notify:${channel}`;
  }
}

/**
 * The bus's shared connection (publishing, acknowledging, administration) with what every part of the
 * bus needs around it: its keys and limits, failing fast while Redis is known to be down, error reports.
 * Redis only distributes: when it is down, commands reject at once and callers retry.
 */
export class RedisConnection {
  readonly redis: RedisClient;
  readonly keys: BusKeys;
  readonly maxLen: number;
  readonly deadLetterMaxLen: number;
  readonly blockMs: number;
  readonly maxReconnectDelayMs: number;
  private readonly target: RedisTarget;
  private readonly nodeOptions: RedisOptions;
  private readonly onError: (err: Error) => void;
  private everReady = false;
  private attemptFailed = false;
  private closed = false;

  constructor(options: RedisStreamsMessageBusOptions) {
    this.target = parseRedisUrl(options.url ?? 'redis://127.0.0.1:6379');
    this.keys = new BusKeys(options.prefix ?? 'saga:', this.target.cluster);
    this.maxLen = options.maxLen ?? 100_000;
    this.deadLetterMaxLen = options.deadLetterMaxLen ?? 100_000;
    this.blockMs = options.blockMs ?? 2_000;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2_000;
    this.onError = options.onError ?? (() => undefined);
    this.nodeOptions = {
      // A command caught by a disconnection fails at the first failed reconnect instead of waiting.
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      connectionName: `${this.keys.prefix}bus`,
      ...options.redis,
    };
    this.redis = this.connect({});
    this.redis.on('ready', () => (this.everReady = true));
    this.redis.on('reconnecting', () => (this.attemptFailed = true));
  }

  get isCluster(): boolean {
    return this.target.cluster;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Redis is not reachable now, as far as we know (before the first connection attempt, commands wait for it). */
  get isDown(): boolean {
    return (this.everReady || this.attemptFailed) && this.redis.status !== 'ready';
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
      return await unlessUnreachable(this.redis, call());
    } catch (err) {
      if (err instanceof MessagingError) throw err;
      throw new MessagingError('BUS_UNAVAILABLE', `${what}: ${reasonOf(err)}`, { cause: err });
    }
  }

  /** A further connection to the same Redis (server or cluster), its errors reported. */
  duplicate(options: RedisOptions): RedisClient {
    return this.connect(options);
  }

  report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // An error reporter that throws must not stop the bus.
    }
  }

  /** From now on commands reject with BUS_CLOSED; `quit` ends the connection once the rest is closed. */
  markClosed(): void {
    this.closed = true;
  }

  quit(): Promise<void> {
    return quit(this.redis);
  }

  private connect(overrides: RedisOptions): RedisClient {
    const maxDelay = this.maxReconnectDelayMs;
    const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 16), maxDelay) + Math.floor(Math.random() * 50);
    const target = this.target;
    let connection: RedisClient;
    if (target.cluster) {
      const options: ClusterOptions = {
        // Reconnects to the cluster as a whole; a lost node is found again through the slot map
        // (MOVED and the periodic refresh) when it is back, keeping its slots (no failover).
        clusterRetryStrategy: retryStrategy,
        redisOptions: {
          username: target.username,
          password: target.password,
          ...(target.tls ? { tls: {} } : {}),
          ...this.nodeOptions,
          ...overrides,
        },
      };
      connection = new Cluster(target.nodes, options);
    } else {
      connection = new Redis(target.url, { retryStrategy, ...this.nodeOptions, ...overrides });
    }
    // Without a listener ioredis prints every connection error; they are expected while Redis is down.
    connection.on('error', (err: Error) => this.report(err));
    return connection;
  }
}

/** The replies of a pipeline or transaction, throwing the first error among them. */
export function execResults(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}

/** Per connection, what to tell when it fails to (re)connect; one listener each, however many commands wait. */
const waitingOn = new WeakMap<RedisClient, Set<() => void>>();

/**
 * The work's outcome, or a rejection as soon as the connection fails to (re)connect. A cluster client
 * keeps the commands it cannot send until the cluster is back (a server connection with
 * `maxRetriesPerRequest: 0` rejects them): a caller must not wait for that.
 */
export function unlessUnreachable<T>(connection: RedisClient, work: Promise<T>): Promise<T> {
  let waiting = waitingOn.get(connection);
  if (!waiting) {
    const set = new Set<() => void>();
    const down = () => {
      for (const tell of [...set]) tell();
    };
    connection.on('reconnecting', down);
    connection.on('end', down);
    waitingOn.set(connection, set);
    waiting = set;
  }
  const registry = waiting;
  return new Promise<T>((resolve, reject) => {
    const tell = () => {
      registry.delete(tell);
      reject(new Error(`redis is ${connection.status}`));
    };
    registry.add(tell);
    work.then(
      (value) => {
        registry.delete(tell);
        resolve(value);
      },
      (err: unknown) => {
        registry.delete(tell);
        reject(err);
      },
    );
  });
}

export async function quit(connection: RedisClient): Promise<void> {
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
