import { randomUUID } from 'crypto';
import { MessagingError } from '../messaging.errors';
import { RedisConnection } from './redis-connection';

/*
 * The bus epoch (see MessageBus.epoch): a random value kept in Redis, gone with its data.
 *
 * One server loses its data as a whole, so one key is enough, and a publish checks it in the same
 * script as its XADD (publish.ts).
 *
 * A cluster loses data node by node (a master restarted without persistence keeps its slots and comes
 * back empty), and a script only reaches the keys of one slot. So each topic carries, beside its stream
 * (same slot), an epoch stamp: a random id of the stream's incarnation, written by the first publish to
 * it. The bus's own slot holds the epoch and, in the topic registry, the stamp of each topic as that epoch
 * knows it. `epoch()` compares the registry with the stamps: a stamp gone or different means that the
 * topic lost its data, and the epoch is renewed (compare-and-set), recording the new stamps. A publish
 * with `ifEpoch` checks, in its own script on the topic's slot, the stamp this bus read with that epoch:
 * a topic that lost its data in the meantime refuses the message atomically.
 */

/** SET NX then GET, on one key: the value already there, else the one given. */
const SET_IF_ABSENT_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`;

/**
 * A new epoch, unless another process renewed it first, with the stamps of the topics that changed.
 * KEYS: epoch, topic registry. ARGV: epoch read, new epoch, then topic, stamp pairs.
 */
const RENEW_EPOCH_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
`;

/** An epoch as read in a cluster, with the stamp of each topic it covers. */
export interface ClusterEpoch {
  epoch: string;
  stamps: Map<string, string>;
}

export async function setIfAbsent(connection: RedisConnection, key: string, value: string): Promise<string> {
  return String(await connection.redis.eval(SET_IF_ABSENT_SCRIPT, 1, key, value));
}

/**
 * The cluster epoch: the bus slot's value, renewed first if a registered topic lost its data. The stamps
 * returned are those the epoch covers (publish.ts checks them).
 */
export async function readClusterEpoch(connection: RedisConnection): Promise<ClusterEpoch> {
  const { redis, keys } = connection;
  for (let attempt = 1; ; attempt++) {
    const epoch = await setIfAbsent(connection, keys.epoch, randomUUID());
    const registry = (await redis.hgetall(keys.topics)) as Record<string, string>;
    const topics = Object.keys(registry);
    const current = await Promise.all(topics.map((t) => redis.get(keys.topicEpoch(t))));
    const stamps = new Map(topics.map((t) => [t, registry[t]]));
    const lost = topics.filter((t, i) => current[i] !== registry[t]);
    if (lost.length === 0) return { epoch, stamps };
    // Stamp the new incarnations (a later publish to them must find these), then renew the epoch.
    const fresh = await Promise.all(lost.map((t) => setIfAbsent(connection, keys.topicEpoch(t), randomUUID())));
    const next = randomUUID();
    const pairs = lost.flatMap((t, i) => [t, fresh[i]]);
    if ((await redis.eval(RENEW_EPOCH_SCRIPT, 2, keys.epoch, keys.topics, epoch, next, ...pairs)) === 1) {
      lost.forEach((t, i) => stamps.set(t, fresh[i]));
      return { epoch: next, stamps };
    }
    // Another process renewed it first: read what it recorded.
    if (attempt === 5) throw new Error('the epoch keeps changing');
  }
}

/** The bus's epoch, and in a cluster the stamps read with the latest one (for `publish` with `ifEpoch`). */
export class BusEpoch {
  private latest?: ClusterEpoch;

  constructor(private readonly connection: RedisConnection) {}

  /** See MessageBus.epoch. */
  read(): Promise<string> {
    return this.connection.command('epoch', async () => {
      if (!this.connection.isCluster) return setIfAbsent(this.connection, this.connection.keys.epoch, randomUUID());
      const read = await readClusterEpoch(this.connection);
      this.latest = read;
      return read.epoch;
    });
  }

  /**
   * Cluster: the stamp that `topic` must still have for a publish under `epoch`, or '' when the epoch
   * knew no such topic (its first publish stamps it; see `stamped`). Rejects with EPOCH_CHANGED when
   * `epoch` is no longer the bus's epoch.
   */
  async expectedStamp(topic: string, epoch: string): Promise<string> {
    if (this.latest?.epoch !== epoch && (await this.read()) !== epoch) throw epochChanged();
    return this.latest?.epoch === epoch ? (this.latest.stamps.get(topic) ?? '') : '';
  }

  /** Cluster: a publish under `epoch` found or made `stamp` on a topic the epoch did not know; later ones check it. */
  stamped(topic: string, epoch: string, stamp: string): void {
    if (this.latest?.epoch === epoch && !this.latest.stamps.has(topic)) this.latest.stamps.set(topic, stamp);
  }
}

export function epochChanged(): MessagingError {
  return new MessagingError('EPOCH_CHANGED', 'the broker lost its data since the epoch was read');
}
