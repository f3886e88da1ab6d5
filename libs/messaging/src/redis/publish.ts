import { OutgoingMessage } from '../message-bus.port';
import { MessagingError } from '../messaging.errors';
import { assertMessage, assertName } from '../message-bus.validation';
import { encodeMessage } from '../message.codec';
import { RedisConnection, execResults } from './redis-connection';

// XADD + SADD only while the epoch key still holds the publisher's epoch (one atomic step).
// KEYS: topic stream, topic registry, epoch. ARGV: epoch, maxLen, topic, fields...
const PUBLISH_IF_EPOCH_SCRIPT = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return redis.error_reply('EPOCH_CHANGED') end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
return redis.call('SADD', KEYS[2], ARGV[3])
`;

/**
 * Appends to the topic's stream (trimmed to about maxLen) and records the topic, in one step; a topic
 * recorded for the first time is announced to the pattern subscriptions.
 */
export async function publish(connection: RedisConnection, topic: string, message: OutgoingMessage, ifEpoch?: string): Promise<void> {
  assertName('topic', topic);
  assertMessage(message);
  const fields = encodeMessage(message);
  const { redis, keys, maxLen } = connection;
  let added: unknown;
  if (ifEpoch !== undefined) {
    const script = () => redis.eval(PUBLISH_IF_EPOCH_SCRIPT, 3, keys.stream(topic), keys.topics, keys.epoch, ifEpoch, maxLen, topic, ...fields);
    added = await connection.command('publish', script).catch((err: unknown) => {
      if (/EPOCH_CHANGED/.test(String((err as { cause?: unknown }).cause ?? err))) {
        throw new MessagingError('EPOCH_CHANGED', 'the broker lost its data since the epoch was read');
      }
      throw err;
    });
  } else {
    added = await connection.command('publish', async () => {
      const results = await redis.multi().xadd(keys.stream(topic), 'MAXLEN', '~', maxLen, '*', ...fields).sadd(keys.topics, topic).exec();
      return execResults(results)[1];
    });
  }
  if (added === 1) announceTopic(connection, topic);
}

/** Tells the pattern subscriptions of every process about a topic published for the first time. */
export function announceTopic(connection: RedisConnection, topic: string): void {
  connection.redis.publish(connection.keys.topicsChannel, topic).catch((err) => connection.report(err));
}
