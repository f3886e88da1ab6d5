import { Client, ClientConfig, Pool, PoolConfig, types } from 'pg';
import { embeddedClientClass } from './embedded-client';

// int8 (bigint) columns hold versions, positions and counts: all far below 2^53, so plain numbers
// are exact and far more pleasant than strings. Registered once, process-wide.
types.setTypeParser(types.builtins.INT8, (v) => Number(v));

export interface PoolTimeouts {
  /** A new connection, and a wait for a free pooled client. */
  connectTimeoutMs?: number;
  /**
   * Per statement: the server cancels it (`statement_timeout`), and the client gives up on its own
   * shortly after, since a partitioned server cannot even say that it cancelled.
   */
  statementTimeoutMs?: number;
  /** The server ends a session left idle inside a transaction (a stuck or crashed caller). */
  idleInTransactionTimeoutMs?: number;
}

export interface CreatePoolOptions extends Omit<PoolConfig, 'connectionString'>, PoolTimeouts {
  max?: number;
  /** The server is the embedded PGlite (one session shared by every connection). */
  embedded?: boolean;
}

const SERVER_KEEPALIVES = '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3';

/** How much later than the server's statement timeout the client stops waiting for the answer. */
const CLIENT_GRACE_MS = 500;

/** The message of node-postgres's client-side read timeout (`query_timeout`). */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

/**
 * A client whose connection is dropped when a statement's answer does not come in time. Without
 * this, node-postgres gives up on the query but keeps the connection: the next query queues
 * behind the unanswered one, and the pool hands the wedged client out again and again.
 */
class GuardedClient extends Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const onError = (err: any) => {
      if (err?.message === QUERY_READ_TIMEOUT) this.drop();
    };
    if (callback) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return (super.query as any)(...args, (err: unknown, res: unknown) => {
        if (err) onError(err);
        callback(err, res);
      });
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const result = (super.query as any)(...args);
    if (result && typeof result.then === 'function') {
      return result.catch((err: unknown) => {
        onError(err);
        throw err;
      });
    }
    return result;
  }

  private drop(): void {
    const connection = (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
    connection?.stream?.destroy();
  }
}

/**
 * A node-postgres pool with time limits: nothing that uses it waits on a silent database for longer
 * than the connect timeout plus the statement timeout. Errors of idle clients are logged, never
 * allowed to crash the process.
 */
export function createPool(url: string, options: CreatePoolOptions = {}): Pool {
  const { embedded, connectTimeoutMs, statementTimeoutMs, idleInTransactionTimeoutMs, ...rest } = options;
  // The embedded PGlite runs in this process: no network between, and its one session serialises
  // everything, so a time limit would only cut a transaction that waits for its turn.
  const limits: Partial<ClientConfig> & { idle_in_transaction_session_timeout?: number } = embedded
    ? {}
    : {
        ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + CLIENT_GRACE_MS } : {}),
        ...(idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs } : {}),
        // TCP keepalives on both ends, so that a connection lost in a partition is noticed within
        // about 25 s rather than the OS default of two hours: on our side a dead socket fails, and
        // on the server's the session ends and frees its advisory locks (projection leadership).
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        ...(/[?&]options=/.test(url) ? {} : { options: SERVER_KEEPALIVES }),
      };
  const pool = new Pool({
    connectionString: url,
    Client: embedded ? embeddedClientClass(url) : GuardedClient,
    max: rest.max ?? 20,
    connectionTimeoutMillis: rest.connectionTimeoutMillis ?? connectTimeoutMs ?? 5000,
    idleTimeoutMillis: rest.idleTimeoutMillis ?? 30000,
    ...limits,
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

// PostgreSQL / network faults that mean "the database is not there right now" (or not answering).
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '57014', // query_canceled: our statement_timeout
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|Query read timeout|Client was closed and is not queryable|the database system is (starting up|shutting down)/i;

/** True for errors that say the database is unreachable or silent, as opposed to a refused statement. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; errors?: unknown[] };
  if (e?.code && UNAVAILABLE_CODES.has(e.code)) return true;
  // AggregateError (several addresses refused, e.g. localhost on ::1 and 127.0.0.1)
  if (Array.isArray(e?.errors) && e.errors.length > 0 && e.errors.every(isDatabaseUnavailable)) return true;
  return UNAVAILABLE_MESSAGES.test(e?.message ?? '');
}
