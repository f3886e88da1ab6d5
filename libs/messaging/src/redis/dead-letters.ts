import { DeadLetter, DeadLetterPage, DeadLetterQuery } from '../message-bus.port';
import { MessagingError } from '../messaging.errors';
import { assertName, clampLimit } from '../message-bus.validation';
import { DecodedMessage, decodeMessage, fieldsToRecord, messageFieldsOf } from '../message.codec';
import { appendInCluster } from './publish';
import { RedisConnection, execResults } from './redis-connection';
import { PendingEntry, RawEntry } from './stream-entry';
import { announceTopic, recordTopic } from './topics';

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

/*
 * Cluster: the dead letters (bus slot) and the topic (its own slot) cannot be written in one step. A
 * replay claims the dead letter for a while (one caller wins), publishes it, then removes it; a replay
 * that dies in between leaves the dead letter listed, to be replayed again once the claim expires.
 * KEYS: dead letters, claim. ARGV: dead-letter id, claim ms.
 */
const CLAIM_REPLAY_SCRIPT = `
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 0 end
return 1
`;
// KEYS: dead letters, claim. ARGV: dead-letter id.
const FINISH_REPLAY_SCRIPT = `
redis.call('XDEL', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
`;
const REPLAY_CLAIM_MS = 30_000;

/**
 * Moves a message to the dead-letter stream (`<prefix>__dead-letters`, trimmed to about deadLetterMaxLen)
 * and acknowledges it: atomically on one server; in a cluster (two slots) acknowledged after it is
 * written, so that a consumer dying in between makes a duplicate dead letter, never a lost one.
 * A dead letter is the message's own fields after the group's.
 */
export async function deadLetter(connection: RedisConnection, group: string, entry: PendingEntry, reason: string, deliveries: number): Promise<void> {
  const { topic, key } = entry.stream;
  const { redis, keys, deadLetterMaxLen } = connection;
  const at = new Date().toISOString();
  const fields = ['topic', topic, 'group', group, 'entry', entry.id, 'reason', reason, 'deliveries', String(deliveries), 'at', at, ...entry.fields];
  if (connection.isCluster) {
    await redis.xadd(keys.deadLetters, 'MAXLEN', '~', deadLetterMaxLen, '*', ...fields);
    await redis.xack(key, group, entry.id);
    return;
  }
  const results = await redis.multi().xadd(keys.deadLetters, 'MAXLEN', '~', deadLetterMaxLen, '*', ...fields).xack(key, group, entry.id).exec();
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
  if (connection.isCluster) return replayInCluster(connection, id, topic, messageFieldsOf(record));
  const result = await connection.command('replayDeadLetter', () =>
    redis.eval(REPLAY_SCRIPT, 3, keys.deadLetters, keys.stream(topic), keys.topics, id, connection.maxLen, topic, ...messageFieldsOf(record)),
  );
  if (result === -1) return false;
  if (result === 1) announceTopic(connection, topic);
  return true;
}

async function replayInCluster(connection: RedisConnection, id: string, topic: string, fields: string[]): Promise<boolean> {
  const { redis, keys } = connection;
  const claimed = await connection.command('replayDeadLetter', () => redis.eval(CLAIM_REPLAY_SCRIPT, 2, keys.deadLetters, keys.replaying(id), id, REPLAY_CLAIM_MS));
  if (claimed !== 1) return false;
  try {
    await connection.command('replayDeadLetter', async () => recordTopic(connection, topic, await appendInCluster(connection, topic, fields)));
  } catch (err) {
    await redis.del(keys.replaying(id)).catch((e) => connection.report(e));
    throw err;
  }
  await connection.command('replayDeadLetter', () => redis.eval(FINISH_REPLAY_SCRIPT, 2, keys.deadLetters, keys.replaying(id), id));
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
