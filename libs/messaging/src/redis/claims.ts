import { ResolvedSubscribeOptions } from '../subscribe-options';
import { RedisClient, RedisConnection, execResults } from './redis-connection';
import { PendingEntry, RawEntry, StreamState } from './stream-entry';

/*
 * Acknowledgement and redelivery on the group's pending entries list (PEL): what a consumer was handed
 * stays pending until acknowledged; entries idle for idleMs (their consumer died or is stuck) are claimed
 * by another consumer, with the delivery count Redis keeps for them.
 */

/*
 * A failed message stays pending; backdating its delivery (XCLAIM IDLE) makes XAUTOCLAIM, of any consumer of
 * the group, take it again after retryDelayMs instead of idleMs. JUSTID keeps the delivery count as it is.
 * Only while the failing consumer still owns it: a slow handler's message may have been reclaimed already.
 * KEYS: topic stream. ARGV: group, consumer, entry id, idle ms.
 */
const RETRY_SCRIPT = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'JUSTID')
return 1
`;

export async function ack(connection: RedisConnection, stream: StreamState, group: string, id: string): Promise<void> {
  await connection.redis.xack(stream.key, group, id);
}

/** Makes a failed message due for redelivery after retryDelayMs (to any consumer of the group). */
export async function retryLater(
  connection: RedisConnection,
  stream: StreamState,
  group: string,
  id: string,
  options: Pick<ResolvedSubscribeOptions, 'consumer' | 'idleMs' | 'retryDelayMs'>,
): Promise<void> {
  await connection.redis.eval(RETRY_SCRIPT, 1, stream.key, group, options.consumer, id, options.idleMs - options.retryDelayMs);
}

export interface Claimed {
  /** Entries now this consumer's; their delivery counts come from `withDeliveryCounts`. */
  claimed: PendingEntry[];
  /** The stream has more idle entries than one batch: claim again at once. */
  more: boolean;
}

/**
 * Takes over the messages of `group` left unacknowledged for idleMs, on the subscription's own
 * connection; the stream's XAUTOCLAIM cursor moves on.
 */
export async function claimIdle(
  connection: RedisConnection,
  conn: RedisClient,
  stream: StreamState,
  group: string,
  options: Pick<ResolvedSubscribeOptions, 'consumer' | 'idleMs' | 'batchSize'>,
): Promise<Claimed> {
  const { idleMs, batchSize, consumer } = options;
  const [cursor, entries] = (await conn.xautoclaim(stream.key, group, consumer, idleMs, stream.cursor, 'COUNT', batchSize)) as [string, RawEntry[]];
  stream.cursor = cursor;
  const claimed: PendingEntry[] = [];
  for (const [id, fields] of entries) {
    // Redis 6.2 still lists entries trimmed from the stream: nothing left to deliver.
    if (fields) claimed.push({ stream, id, fields, deliveries: 0 });
    else await ack(connection, stream, group, id);
  }
  return { claimed, more: cursor !== '0-0' };
}

/**
 * The claimed entries still this consumer's, with the delivery count Redis keeps (XAUTOCLAIM counted
 * the claim: this delivery included). All of one stream, so one slot: one pipeline.
 */
export async function withDeliveryCounts(conn: RedisClient, claimed: PendingEntry[], group: string, consumer: string): Promise<PendingEntry[]> {
  if (claimed.length === 0) return [];
  const counts = conn.pipeline();
  for (const c of claimed) counts.xpending(c.stream.key, group, c.id, c.id, 1);
  const pending = execResults(await counts.exec()) as [string, string, number, number][][];
  return claimed.filter((c, i) => {
    const [row] = pending[i];
    // Acknowledged or taken by another consumer in the meantime: not ours to deliver.
    if (!row || row[1] !== consumer) return false;
    c.deliveries = Number(row[3]);
    return true;
  });
}

/** A consumer that owns nothing can go; one that still owns messages stays so that they can be reclaimed. */
export async function removeConsumerIfIdle(connection: RedisConnection, stream: StreamState, group: string, consumer: string): Promise<void> {
  const { redis } = connection;
  try {
    const owned = (await redis.xpending(stream.key, group, '-', '+', 1, consumer)) as unknown[];
    if (owned.length > 0) return;
    await redis.call('XGROUP', 'DELCONSUMER', stream.key, group, consumer);
  } catch (err) {
    connection.report(err);
  }
}
