import { Pool, PoolConfig, types } from 'pg';
import { embeddedClientClass } from './embedded-client';

// int8 (bigint) columns hold versions, positions and counts: all far below 2^53, so plain numbers
// are exact and far more pleasant than strings. Registered once, process-wide.
types.setTypeParser(types.builtins.INT8, (v) => Number(v));

export interface CreatePoolOptions extends Omit<PoolConfig, 'connectionString'> {
  max?: number;
  /** The server is the embedded PGlite (one session shared by every connection). */
  embedded?: boolean;
}

/** A node-postgres pool. Errors of idle clients are logged, never allowed to crash the process. */
export function createPool(url: string, options: CreatePoolOptions = {}): Pool {
  const { embedded, ...rest } = options;
  const pool = new Pool({
    connectionString: url,
    ...(embedded ? { Client: embeddedClientClass(url) } : {}),
    max: rest.max ?? 20,
    connectionTimeoutMillis: rest.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: rest.idleTimeoutMillis ?? 30000,
    ...rest,
  });
  pool.on('error', (err) => {
    // An idle client lost its connection (server restart, network): the pool replaces it.
    process.emitWarning(`pg pool: idle client error: ${err.message}`);
  });
  pool.on('connect', (client) => {
    // pg-pool listens for errors only on idle clients: a connection lost while checked out (in a
    // transaction) would otherwise emit an unhandled 'error' and end the process. The query in
    // flight fails on its own, and the caller handles that.
    client.on('error', (err) => process.emitWarning(`pg client: connection lost: ${err.message}`));
  });
  return pool;
}
