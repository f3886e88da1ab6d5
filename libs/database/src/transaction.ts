import { ClientBase, Pool, PoolClient } from 'pg';

/**
 * BEGIN, `fn`, COMMIT; ROLLBACK when `fn` or the COMMIT throws, and the error goes on unchanged.
 * When even the ROLLBACK fails, the connection is broken: its error lands in `state.broken`.
 */
async function transact<T, C extends ClientBase>(client: C, fn: (client: C) => Promise<T>, state: { broken?: Error }): Promise<T> {
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    try {
      await client.query('rollback');
    } catch (rollbackError) {
      state.broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw err;
  }
}

/**
 * Runs `fn` in one transaction on a client the caller already holds (and releases): for work that
 * needs the session around the transaction too, such as a session-level advisory lock.
 */
export function inTransaction<T, C extends ClientBase>(client: C, fn: (client: C) => Promise<T>): Promise<T> {
  return transact(client, fn, {});
}

/**
 * Runs `fn` in one transaction on a client of its own from `pool`. The client goes back to the pool
 * afterwards; if its connection broke (the ROLLBACK failed too) it is released with that error, so
 * the pool drops it instead of handing a dead connection to the next caller.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const state: { broken?: Error } = {};
  try {
    return await transact(client, fn, state);
  } finally {
    client.release(state.broken);
  }
}
