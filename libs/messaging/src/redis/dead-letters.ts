import { DeadLetter, DeadLetterPage, DeadLetterQuery } from '../message-bus.port';
import { MessagingError } from '../messaging.errors';
import { assertName, clampLimit } from '../message-bus.validation';
import { DecodedMessage, decodeMessage, fieldsToRecord, messageFieldsOf } from '../message.codec';
import { announceTopic } from './publish';
import { RedisConnection, execResults } from './redis-connection';
import { PendingEntry, RawEntry } from './stream-entry';

/*
 * XDEL decides who replays a dead letter: only the caller that removed it re-publishes it, in the same
 * atomic step, so concurrent replays of one dead letter publish it once.
 * KEYS: dead letters, topic stream, topic registry. ARGV: dead-letter id, maxLen, topic, fields...
 */
const REPLAY_SCRIPT = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
return redis.call('SADD', KEYS[3], ARGV[3])
`;

/**
 * Moves a message to the dead-letter stream (`<prefix>__dead-letters`, trimmed to about deadLetterMaxLen)
 * and acknowledges it, atomically. A dead letter is the message's own fields after the group's.
 */
export async function deadLetter(connection: RedisConnection, group: string, entry: PendingEntry, reason: string, deliveries: number): Promise<void> {
  const { topic, key } = entry.stream;
  const at = new Date().toISOString();
  const results = await connection.redis
    .multi()
    .xadd(
      connection.keys.deadLetters, 'MAXLEN', '~', connection.deadLetterMaxLen, '*',
      'topic', topic, 'group', group, 'entry', entry.id, 'reason', reason, 'deliveries', deliveries, 'at', at,
      ...entry.fields,
    )
    .xack(key, group, entry.id)
    .exec();
  execResults(results);
}

export async function listDeadLetters(connection: RedisConnection, query: DeadLetterQuery): Promise<DeadLetterPage> {
  const limit = clampLimit(query.limit);
  if (query.cursor !== undefined && !isStreamId(query.cursor)) {
    throw new MessagingError('INVALID_ARGUMENT', `invalid cursor ${JSON.stringify(query.cursor)}`);
  }
  // The topic filter runs here, so scan in pages larger than what is asked.
  const pageSize = query.topic === undefined ? limit : Math.max(limit, 200);
  const items: DeadLetter[] = [];
  let start = query.cursor === undefined ? '-' : `(${query.cursor}`;
  for (;;) {
    const page = (await connection.command('listDeadLetters', () =>
      connection.redis.xrange(connection.keys.deadLetters, start, '+', 'COUNT', pageSize),
    )) as RawEntry[];
    for (const [id, fields] of page) {
      start = `(${id}`;
      const dead = toDeadLetter(id, fields ?? []);
      if (query.topic !== undefined && dead.topic !== query.topic) continue;
      items.push(dead);
      if (items.length === limit) return { items, nextCursor: id };
    }
    if (page.length < pageSize) return { items };
  }
}

export async function replayDeadLetter(connection: RedisConnection, id: string): Promise<boolean> {
  connection.assertOpen();
  if (!isStreamId(id)) return false;
  const { redis, keys } = connection;
  const [entry] = (await connection.command('replayDeadLetter', () => redis.xrange(keys.deadLetters, id, id))) as RawEntry[];
  if (!entry) return false;
  const record = fieldsToRecord(entry[1] ?? []);
  const topic = record.topic;
  assertName('topic', topic);
  const result = await connection.command('replayDeadLetter', () =>
    redis.eval(REPLAY_SCRIPT, 3, keys.deadLetters, keys.stream(topic), keys.topics, id, connection.maxLen, topic, ...messageFieldsOf(record)),
  );
  if (result === -1) return false;
  if (result === 1) announceTopic(connection, topic);
  return true;
}

function toDeadLetter(id: string, fields: string[]): DeadLetter {
  const record = fieldsToRecord(fields);
  let message: DecodedMessage;
  try {
    message = decodeMessage(fields);
  } catch {
    message = { id: record.id ?? '', payload: record.payload ?? null, headers: {} };
  }
  return {
    id,
    topic: record.topic,
    group: record.group,
    message,
    reason: record.reason,
    deliveries: Number(record.deliveries),
    at: record.at,
  };
}

function isStreamId(id: string): boolean {
  return typeof id === 'string' && /^\d+-\d+$/.test(id);
}
