import { join } from 'path';
import { ConfigError } from './config-error';
import { parseEnv } from './env.schema';

const messageOf = (env: Record<string, string>): string => {
  try {
    parseEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('parseEnv accepted the environment');
};

describe('the environment schema', () => {
  it('gives the README defaults when nothing is set', () => {
    expect(parseEnv({})).toEqual({
      PORT: 3000,
      HOST: '0.0.0.0',
      DATA_DIR: join(process.cwd(), '.data'),
      WORKER_POLL_MS: 200,
      WORKER_LEASE_MS: 30_000,
      PROJECTION_BATCH_SIZE: 1000,
      LOG_LEVEL: 'info',
      DB_CONNECT_TIMEOUT_MS: 2000,
      DB_STATEMENT_TIMEOUT_MS: 3000,
      DB_WORKER_STATEMENT_TIMEOUT_MS: 30_000,
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: 60_000,
      SHUTDOWN_TIMEOUT_MS: 10_000,
      AGENT_HEARTBEAT_MS: 10_000,
      AGENT_RUNTIME: 'local',
    });
  });

  it('leaves the database-dependent sizes and the URLs unset, for prepareRuntime to settle', () => {
    const env = parseEnv({});
    expect([env.DATABASE_URL, env.REDIS_URL, env.ADMIN_API_KEY, env.DB_POOL_SIZE, env.WORKER_CONCURRENCY]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('treats an empty value as unset', () => {
    const env = parseEnv({ PORT: '', DB_POOL_SIZE: ' ', DATABASE_URL: '', LOG_LEVEL: '' });
    expect([env.PORT, env.DB_POOL_SIZE, env.DATABASE_URL, env.LOG_LEVEL]).toEqual([3000, undefined, undefined, 'info']);
  });

  it('parses what is set', () => {
    const env = parseEnv({
      DATABASE_URL: 'postgresql://app:pw@db:5432/saga',
      REDIS_URL: 'rediss://cache:6380',
      ADMIN_API_KEY: 'sk_admin_x',
      PORT: '8080',
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/saga',
      DB_POOL_SIZE: '50',
      WORKER_CONCURRENCY: '64',
      WORKER_POLL_MS: '500',
      WORKER_LEASE_MS: '10000',
      PROJECTION_BATCH_SIZE: '250',
      LOG_LEVEL: 'DEBUG',
      DB_CONNECT_TIMEOUT_MS: '1000',
      DB_STATEMENT_TIMEOUT_MS: '1500',
      DB_WORKER_STATEMENT_TIMEOUT_MS: '20000',
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '5000',
      SHUTDOWN_TIMEOUT_MS: '3000',
      AGENT_HEARTBEAT_MS: '2000',
      AGENT_RUNTIME: 'External',
      AGENT_RUNTIME_CONFIG: '/etc/saga/agents.json',
      AGENT_API_URL: 'http://api:3000',
    });
    expect(env).toEqual({
      DATABASE_URL: 'postgresql://app:pw@db:5432/saga',
      REDIS_URL: 'rediss://cache:6380',
      ADMIN_API_KEY: 'sk_admin_x',
      PORT: 8080,
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/saga',
      DB_POOL_SIZE: 50,
      WORKER_CONCURRENCY: 64,
      WORKER_POLL_MS: 500,
      WORKER_LEASE_MS: 10_000,
      PROJECTION_BATCH_SIZE: 250,
      LOG_LEVEL: 'debug',
      DB_CONNECT_TIMEOUT_MS: 1000,
      DB_STATEMENT_TIMEOUT_MS: 1500,
      DB_WORKER_STATEMENT_TIMEOUT_MS: 20_000,
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: 5000,
      SHUTDOWN_TIMEOUT_MS: 3000,
      AGENT_HEARTBEAT_MS: 2000,
      AGENT_RUNTIME: 'external',
      AGENT_RUNTIME_CONFIG: '/etc/saga/agents.json',
      AGENT_API_URL: 'http://api:3000',
    });
  });

  it('keeps tests silent unless LOG_LEVEL says otherwise', () => {
    expect(parseEnv({ NODE_ENV: 'test' }).LOG_LEVEL).toBe('silent');
    expect(parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'warn' }).LOG_LEVEL).toBe('warn');
  });

  it.each([
    [{ PORT: 'abc' }, 'invalid configuration: PORT must be an integer from 1 to 65535 (got "abc")'],
    [{ PORT: '0' }, 'invalid configuration: PORT must be an integer from 1 to 65535 (got "0")'],
    [{ PORT: '70000' }, 'invalid configuration: PORT must be an integer from 1 to 65535 (got "70000")'],
    [{ PORT: '3000.5' }, 'invalid configuration: PORT must be an integer from 1 to 65535 (got "3000.5")'],
    [{ DB_POOL_SIZE: 'lots' }, 'invalid configuration: DB_POOL_SIZE must be an integer from 1 to 1000 (got "lots")'],
    [{ WORKER_CONCURRENCY: '-1' }, 'invalid configuration: WORKER_CONCURRENCY must be an integer from 1 to 10000 (got "-1")'],
    [{ WORKER_POLL_MS: '1e3' }, 'invalid configuration: WORKER_POLL_MS must be a whole number of milliseconds from 1 to 2147483647 (got "1e3")'],
    [{ WORKER_LEASE_MS: '30s' }, 'invalid configuration: WORKER_LEASE_MS must be a whole number of milliseconds from 1 to 2147483647 (got "30s")'],
    [{ PROJECTION_BATCH_SIZE: '0' }, 'invalid configuration: PROJECTION_BATCH_SIZE must be an integer from 1 to 100000 (got "0")'],
    [{ LOG_LEVEL: 'loud' }, 'invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [
      { DB_CONNECT_TIMEOUT_MS: 'soon' },
      'invalid configuration: DB_CONNECT_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647 (got "soon")',
    ],
    [
      { DB_STATEMENT_TIMEOUT_MS: '0' },
      'invalid configuration: DB_STATEMENT_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647 (got "0")',
    ],
    [
      { DB_WORKER_STATEMENT_TIMEOUT_MS: '9999999999' },
      'invalid configuration: DB_WORKER_STATEMENT_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647 (got "9999999999")',
    ],
    [
      { DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '1m' },
      'invalid configuration: DB_IDLE_IN_TRANSACTION_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647 (got "1m")',
    ],
    [{ SHUTDOWN_TIMEOUT_MS: 'never' }, 'invalid configuration: SHUTDOWN_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647 (got "never")'],
    [{ DATABASE_URL: 'lots' }, 'invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL (got a value that is not a URL)'],
    [{ REDIS_URL: 'http://cache:6379' }, 'invalid configuration: REDIS_URL must be a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL (got "http://cache:6379")'],
    [
      { REDIS_URL: 'redis+cluster://cache-0:6379?node=cache-1/6379' },
      'invalid configuration: REDIS_URL must be a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL (got "redis+cluster://cache-0:6379?node=cache-1/6379")',
    ],
  ])('refuses %j with one line naming the variable and what it allows', (env, message) => {
    expect(messageOf(env)).toBe(message);
  });

  it('takes a Redis Cluster URL (seeds: its host and each node parameter)', () => {
    const url = 'rediss+cluster://app:pw@cache-0:6379?node=cache-1:6379&node=cache-2:6379';
    expect(parseEnv({ REDIS_URL: url }).REDIS_URL).toBe(url);
  });

  it('never repeats a password from a rejected URL', () => {
    expect(messageOf({ DATABASE_URL: 'mysql://app:s3cret@db/saga' })).toBe(
      'invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL (got "mysql://app:***@db/saga")',
    );
  });

  it('names every bad variable on the same line', () => {
    const message = messageOf({ PORT: 'abc', DB_POOL_SIZE: 'lots' });
    expect(message).toBe(
      'invalid configuration: PORT must be an integer from 1 to 65535 (got "abc"); DB_POOL_SIZE must be an integer from 1 to 1000 (got "lots")',
    );
    expect(message).not.toMatch(/\n/);
  });

  it('keeps a control character in a value off the line break', () => {
    expect(messageOf({ PORT: '80\n80' })).toBe('invalid configuration: PORT must be an integer from 1 to 65535 (got "80\\n80")');
  });
});
