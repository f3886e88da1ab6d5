import { RedisConnection } from './redis-connection';

/*
 * The topic registry: every topic ever published, so that pattern subscriptions find the topics that
 * exist when they subscribe, and an announcement on a channel for the ones first published later.
 * On one server a set, written in the publish's own transaction; in a cluster a hash topic → epoch
 * stamp on the bus's slot (see epoch.ts), written after the publish (its own slot).
 */

export async function knownTopics(connection: RedisConnection): Promise<string[]> {
  const { redis, keys } = connection;
  return connection.command('discover topics', () => (connection.isCluster ? redis.hkeys(keys.topics) : redis.smembers(keys.topics)));
}

/** Cluster: records a topic just published to with its epoch stamp (kept if one is recorded); announces it the first time. */
export async function recordTopic(connection: RedisConnection, topic: string, stamp: string): Promise<void> {
  const added = await connection.redis.hsetnx(connection.keys.topics, topic, stamp);
  if (added === 1) announceTopic(connection, topic);
}

/** Tells the pattern subscriptions of every process about a topic published for the first time. */
export function announceTopic(connection: RedisConnection, topic: string): void {
  connection.redis.publish(connection.keys.topicsChannel, topic).catch((err) => connection.report(err));
}
