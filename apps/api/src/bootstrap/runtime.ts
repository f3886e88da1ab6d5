import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { randomBytes } from 'crypto';
import { createPool, DEFAULT_DATABASE_URL, EmbeddedPostgres, ensureDatabase, isDatabaseUnavailable, migrate, startEmbeddedPostgres } from '@app/database';
import { failureBackoffMs } from '@app/event-store';
import { checkDeploymentHandlers, parseEnv, PlatformConfig } from '@app/platform';

export interface Runtime {
  config: PlatformConfig;
  embedded?: EmbeddedPostgres;
  /** Set when the admin key was generated for this development install (printed once). */
  generatedAdminKey?: string;
  /** Where the generated admin key is kept. */
  adminKeyFile?: string;
  /** Where the HTTP server listens. */
  listen: { port: number; host: string };
  /** How long a graceful stop may take before the process ends anyway. */
  shutdownTimeoutMs: number;
}

/**
 * Runs `fn` until the database answers: a process started before its database (a deploy, a
 * restart of both, a partition) waits and retries with backoff instead of exiting. Anything else
 * (a refused password, a failing migration) is thrown.
 */
async function untilDatabaseAnswers(fn: () => Promise<void>, databaseUrl: string): Promise<void> {
  for (let failures = 1; ; failures++) {
    try {
      await fn();
      if (failures > 1) console.error(`database ${hostOf(databaseUrl)} answers again; starting`);
      return;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      const waitMs = failureBackoffMs(failures);
      console.error(`database ${hostOf(databaseUrl)} not reachable (${describe(err)}); retrying in ${(waitMs / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unknown';
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: { message?: string }[] };
  const message = e?.message || e?.errors?.[0]?.message || String(err);
  return e?.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/**
 * Resolves where the platform runs: DATABASE_URL, or (all-in-one without it) the embedded
 * PostgreSQL under .data/; applies migrations; settles the admin key.
 */
export async function prepareRuntime(options: { role: 'all' | 'api' | 'worker'; env?: NodeJS.ProcessEnv }): Promise<Runtime> {
  // Validated before anything starts: a bad value ends the process with one line (ConfigError).
  const env = parseEnv(options.env ?? process.env);
  // The deployment's own task handlers load now: a bad module stops the start with one line.
  checkDeploymentHandlers(env.TASK_HANDLERS_MODULE);
  const dataDir = resolve(env.DATA_DIR);
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl: string;
  if (env.DATABASE_URL) {
    databaseUrl = env.DATABASE_URL;
  } else if (options.role === 'all') {
    embedded = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pglite') });
    databaseUrl = embedded.url;
  } else {
    databaseUrl = DEFAULT_DATABASE_URL;
  }
  await untilDatabaseAnswers(async () => {
    if (!embedded) await ensureDatabase(databaseUrl);
    // Migrations may rewrite large tables: a generous statement limit, but never an endless wait.
    const pool = createPool(databaseUrl, { max: 1, embedded: embedded !== undefined, connectTimeoutMs: 5000, statementTimeoutMs: 600_000 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  }, databaseUrl);

  let adminApiKey = env.ADMIN_API_KEY;
  let generatedAdminKey: string | undefined;
  let adminKeyFile: string | undefined;
  if (!adminApiKey && options.role === 'all') {
    // Development convenience: a key generated once and kept under .data/ (printed at start-up).
    const file = (adminKeyFile = join(dataDir, 'admin-api-key'));
    if (existsSync(file)) adminApiKey = readFileSync(file, 'utf8').trim();
    else {
      mkdirSync(dataDir, { recursive: true });
      adminApiKey = `sk_admin_${randomBytes(24).toString('base64url')}`;
      writeFileSync(file, adminApiKey + '\n', { mode: 0o600 });
    }
    generatedAdminKey = adminApiKey;
  }

  const isEmbedded = embedded !== undefined;
  const config: PlatformConfig = {
    databaseUrl,
    redisUrl: env.REDIS_URL,
    adminApiKey,
    embedded: isEmbedded,
    // PGlite serialises every connection onto one session: a small pool is all it can use.
    poolSize: env.DB_POOL_SIZE ?? (isEmbedded ? 8 : 20),
    db: {
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      workerStatementTimeoutMs: env.DB_WORKER_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    worker: {
      enabled: options.role !== 'api',
      concurrency: env.WORKER_CONCURRENCY ?? (isEmbedded ? 8 : 128),
      pollIntervalMs: env.WORKER_POLL_MS,
      leaseMs: env.WORKER_LEASE_MS,
    },
    projections: { enabled: options.role !== 'api', batchSize: env.PROJECTION_BATCH_SIZE },
    taskHandlersModule: env.TASK_HANDLERS_MODULE,
    agents: {
      heartbeatIntervalMs: env.AGENT_HEARTBEAT_MS,
      runtime: env.AGENT_RUNTIME as 'local' | 'external',
      runtimeConfigPath: env.AGENT_RUNTIME_CONFIG,
      apiUrl: env.AGENT_API_URL ?? `http://127.0.0.1:${env.PORT}`,
    },
  };
  return {
    config,
    embedded,
    generatedAdminKey,
    adminKeyFile,
    listen: { port: env.PORT, host: env.HOST },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  };
}
