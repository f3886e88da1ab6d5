import { join } from 'path';
import { z } from 'zod';
import { isRedisUrl } from '@app/messaging';
import { DEFAULT_DB_TIMEOUTS } from '../platform.config';
import { ConfigError } from './config-error';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** setTimeout's limit: a longer delay would fire at once. */
const MAX_MS = 2_147_483_647;

/** A variable set to nothing (`PORT= npm start`) counts as unset, as it does in a shell. */
const blankAsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** One variable: its rule, and (as the description) what it allows, for the error line. */
const setting = <T extends z.ZodType>(allowed: string, rule: T) => z.preprocess(blankAsUnset, rule).describe(allowed);

const integer = (min: number, max: number) => z.string().trim().regex(/^\d+$/).transform(Number).pipe(z.number().min(min).max(max));
const ms = (fallback: number) => setting(`a whole number of milliseconds from 1 to ${MAX_MS}`, integer(1, MAX_MS).default(fallback));
const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => URL.canParse(v) && protocols.includes(new URL(v).protocol));

/**
 * The process environment, read once at start (README "Configuration"). Defaults that depend on
 * the database (pool size and concurrency are smaller on the embedded PGlite) stay unset here and
 * are settled by `prepareRuntime`.
 */
export const envSchema = z.object({
  DATABASE_URL: setting('a postgres:// or postgresql:// URL', url(['postgres:', 'postgresql:']).optional()),
  // One server, or a Redis Cluster: redis+cluster://[user:password@]host:port[?node=host:port&…].
  REDIS_URL: setting('a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL', z.string().trim().refine(isRedisUrl).optional()),
  ADMIN_API_KEY: setting('a string', z.string().optional()),
  PORT: setting('an integer from 1 to 65535', integer(1, 65535).default(3000)),
  HOST: setting('a host name or IP address', z.string().trim().default('0.0.0.0')),
  DATA_DIR: setting('a directory path', z.string().default(() => join(process.cwd(), '.data'))),
  DB_POOL_SIZE: setting('an integer from 1 to 1000', integer(1, 1000).optional()),
  WORKER_CONCURRENCY: setting('an integer from 1 to 10000', integer(1, 10_000).optional()),
  WORKER_POLL_MS: ms(200),
  WORKER_LEASE_MS: ms(30_000),
  PROJECTION_BATCH_SIZE: setting('an integer from 1 to 100000', integer(1, 100_000).default(1000)),
  LOG_LEVEL: setting(`one of ${LOG_LEVELS.join(', ')}`, z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS)).optional()),
  DB_CONNECT_TIMEOUT_MS: ms(DEFAULT_DB_TIMEOUTS.connectTimeoutMs),
  DB_STATEMENT_TIMEOUT_MS: ms(DEFAULT_DB_TIMEOUTS.statementTimeoutMs),
  DB_WORKER_STATEMENT_TIMEOUT_MS: ms(DEFAULT_DB_TIMEOUTS.workerStatementTimeoutMs),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: ms(DEFAULT_DB_TIMEOUTS.idleInTransactionTimeoutMs),
  SHUTDOWN_TIMEOUT_MS: ms(10_000),
  AGENT_HEARTBEAT_MS: ms(10_000),
  AGENT_RUNTIME: setting('local or external', z.string().trim().toLowerCase().pipe(z.enum(['local', 'external'])).default('local')),
  AGENT_RUNTIME_CONFIG: setting('a file path', z.string().optional()),
  TASK_HANDLERS_MODULE: setting('a module path', z.string().optional()),
  AGENT_API_URL: setting('an http:// or https:// URL', url(['http:', 'https:']).optional()),
});

export type Env = Omit<z.output<typeof envSchema>, 'LOG_LEVEL'> & { LOG_LEVEL: LogLevel };

/**
 * Validates the environment; throws a ConfigError whose one-line message names every bad
 * variable and what it allows. Also the `validate` of the Nest ConfigModule.
 */
export function parseEnv(raw: Record<string, unknown>): Env {
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    const problems = names.map((name) => `${name} must be ${allowed(name)} (got ${shown(name, raw[name])})`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  // Tests stay quiet unless they ask for logs.
  return { ...parsed.data, LOG_LEVEL: parsed.data.LOG_LEVEL ?? (raw.NODE_ENV === 'test' ? 'silent' : 'info') };
}

function allowed(name: string): string {
  return (envSchema.shape as Record<string, z.ZodType>)[name]?.description ?? 'valid';
}

/** The rejected value, on one line, without a URL's password. */
function shown(name: string, value: unknown): string {
  if (typeof value !== 'string') return String(value);
  let text = value;
  if (name.endsWith('_URL')) {
    // What does not parse cannot be redacted: it is not repeated.
    if (!URL.canParse(value)) return 'a value that is not a URL';
    const u = new URL(value);
    if (u.password) {
      u.password = '***';
      text = u.toString();
    }
  }
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}
