import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { randomBytes } from 'crypto';
import { createPool, databaseUrlFromEnv, EmbeddedPostgres, ensureDatabase, migrate, startEmbeddedPostgres } from '@app/database';
import { PlatformConfig } from '@app/platform';

export interface Runtime {
  config: PlatformConfig;
  embedded?: EmbeddedPostgres;
  /** Set when the admin key was generated for this development install (printed once). */
  generatedAdminKey?: string;
}

const int = (v: string | undefined, d: number) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : d);

/**
 * Resolves where the platform runs: DATABASE_URL, or (all-in-one without it) the embedded
 * PostgreSQL under .data/; applies migrations; settles the admin key.
 */
export async function prepareRuntime(options: { role: 'all' | 'api' | 'worker'; env?: NodeJS.ProcessEnv }): Promise<Runtime> {
  const env = options.env ?? process.env;
  const dataDir = env.DATA_DIR ?? join(process.cwd(), '.data');
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl: string;
  if (env.DATABASE_URL) {
    databaseUrl = env.DATABASE_URL;
  } else if (options.role === 'all') {
    embedded = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pglite') });
    databaseUrl = embedded.url;
  } else {
    databaseUrl = databaseUrlFromEnv(env);
  }
  if (!embedded) await ensureDatabase(databaseUrl);
  const pool = createPool(databaseUrl, { max: 1, embedded: embedded !== undefined });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }

  let adminApiKey = env.ADMIN_API_KEY || undefined;
  let generatedAdminKey: string | undefined;
  if (!adminApiKey && options.role === 'all') {
    // Development convenience: a key generated once and kept under .data/ (printed at start-up).
    const file = join(dataDir, 'admin-api-key');
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
    redisUrl: env.REDIS_URL || undefined,
    adminApiKey,
    embedded: isEmbedded,
    // PGlite serialises every connection onto one session: a small pool is all it can use.
    poolSize: int(env.DB_POOL_SIZE, isEmbedded ? 8 : 20),
    worker: {
      enabled: options.role !== 'api',
      concurrency: int(env.WORKER_CONCURRENCY, isEmbedded ? 8 : 128),
      pollIntervalMs: int(env.WORKER_POLL_MS, 200),
      leaseMs: int(env.WORKER_LEASE_MS, 30_000),
    },
    projections: { enabled: options.role !== 'api', batchSize: int(env.PROJECTION_BATCH_SIZE, 1000) },
  };
  return { config, embedded, generatedAdminKey };
}
