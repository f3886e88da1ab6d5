import { randomUUID } from 'crypto';
import { OutgoingMessage } from '../message-bus.port';
import { assertMessage, assertName } from '../message-bus.validation';
import { encodeMessage } from '../message.codec';
import { BusEpoch, epochChanged } from './epoch';
import { RedisConnection, execResults } from './redis-connection';
import { announceTopic, recordTopic } from './topics';

// One server: XADD + SADD only while the epoch key still holds the publisher's epoch (one atomic step).
// KEYS: topic stream, topic registry, epoch. ARGV: epoch, maxLen, topic, fields...
const PUBLISH_IF_EPOCH_SCRIPT = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return redis.error_reply('EPOCH_CHANGED') end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
return redis.call('SADD', KEYS[2], ARGV[3])
`;

// Cluster, on the topic's slot: XADD unless the topic's epoch stamp is not the one expected (ARGV[1],
// '' for any); a topic without a stamp gets one. Returns the stamp.
// KEYS: topic stream, topic epoch stamp. ARGV: expected stamp or '', new stamp, maxLen, fields...
const CLUSTER_PUBLISH_SCRIPT = `
local stamp = redis.call('GET', KEYS[2])
if ARGV[1] ~= '' then
  if stamp ~= ARGV[1] then return redis.error_reply('EPOCH_CHANGED') end
elseif not stamp then
  stamp = ARGV[2]
  redis.call('SET', KEYS[2], stamp)
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
return stamp
`;

/**
 * Appends to the topic's stream (trimmed to about maxLen) and records the topic; a topic recorded for
 * the first time is announced to the pattern subscriptions. On one server in one step; in a cluster
 * the registry (another slot) is written after the append.
 */
export async function publish(connection: RedisConnection, epochs: BusEpoch, topic: string, message: OutgoingMessage, ifEpoch?: string): Promise<void> {
  assertName('topic', topic);
  assertMessage(message);
  const fields = encodeMessage(message);
  if (connection.isCluster) return publishInCluster(connection, epochs, topic, fields, ifEpoch);
  const { redis, keys, maxLen } = connection;
  let added: unknown;
  if (ifEpoch !== undefined) {
    const script = () => redis.eval(PUBLISH_IF_EPOCH_SCRIPT, 3, keys.stream(topic), keys.topics, keys.epoch, ifEpoch, maxLen, topic, ...fields);
    added = await connection.command('publish', script).catch(rethrowEpochChanged);
  } else {
    added = await connection.command('publish', async () => {
      const results = await redis.multi().xadd(keys.stream(topic), 'MAXLEN', '~', maxLen, '*', ...fields).sadd(keys.topics, topic).exec();
      return execResults(results)[1];
    });
  }
  if (added === 1) announceTopic(connection, topic);
}

/** Cluster: appends the fields to the topic's stream unless its stamp is not `expected` ('' for any); resolves with the stamp. */
export async function appendInCluster(connection: RedisConnection, topic: string, fields: string[], expected = ''): Promise<string> {
  const { redis, keys, maxLen } = connection;
  return String(await redis.eval(CLUSTER_PUBLISH_SCRIPT, 2, keys.stream(topic), keys.topicEpoch(topic), expected, randomUUID(), maxLen, ...fields));
}

async function publishInCluster(connection: RedisConnection, epochs: BusEpoch, topic: string, fields: string[], ifEpoch?: string): Promise<void> {
  const expected = ifEpoch === undefined ? '' : await epochs.expectedStamp(topic, ifEpoch);
  const stamp = await connection.command('publish', () => appendInCluster(connection, topic, fields, expected)).catch(rethrowEpochChanged);
  if (ifEpoch !== undefined && expected === '') epochs.stamped(topic, ifEpoch, stamp);
  await connection.command('publish', () => recordTopic(connection, topic, stamp));
}

function rethrowEpochChanged(err: unknown): never {
  if (/EPOCH_CHANGED/.test(String((err as { cause?: unknown }).cause ?? err))) throw epochChanged();
  throw err;
}
