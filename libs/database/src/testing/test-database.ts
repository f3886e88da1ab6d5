import { createHash, randomBytes } from 'crypto';
import { Client, Pool } from 'pg';
import { databaseUrlFromEnv, withDatabase } from '../database.config';
import { quoteIdent } from '../ensure-database';
import { loadMigrations, loadRepeatables, migrate } from '../migrator';
import { createPool } from '../pool';

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

const TEMPLATE_LOCK_KEY = 7_411_203_002;

async function withAdmin<T>(serverUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A template database with every migration applied, named after the migrations' content. */
async function ensureTemplate(serverUrl: string): Promise<string> {
  const migrations = loadMigrations();
  const repeatables = loadRepeatables();
  const hash = createHash('sha1')
    .update([...migrations, ...repeatables].map((m) => m.name + m.sql).join('\0'))
    .digest('hex')
    .slice(0, 12);
  const name = `saga_tpl_${hash}`;
  await withAdmin(serverUrl, async (admin) => {
    await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const { rows } = await admin.query<{ datistemplate: boolean }>(
        'select datistemplate from pg_database where datname = $1',
        [name],
      );
      if (rows[0]?.datistemplate) return;
      if (rows.length) await admin.query(`drop database ${quoteIdent(name)} with (force)`);
      await admin.query(`create database ${quoteIdent(name)}`);
      const pool = createPool(withDatabase(serverUrl, name), { max: 1 });
      try {
        await migrate(pool, migrations, repeatables);
      } finally {
        await pool.end();
      }
      await admin.query(`alter database ${quoteIdent(name)} is_template true`);
    } finally {
      await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  return name;
}

/**
 * A fresh, migrated database for one test file, cloned from a template so files run in parallel.
 * The server comes from DATABASE_URL (set by the Jest global setup: testcontainers or local).
 */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const serverUrl = databaseUrlFromEnv();
  const template = await ensureTemplate(serverUrl);
  const name = `saga_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdmin(serverUrl, async (admin) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`create database ${quoteIdent(name)} template ${quoteIdent(template)}`);
        return;
      } catch (err) {
        // 55006: the template is briefly in use by a concurrent clone; try again shortly.
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  const url = withDatabase(serverUrl, name);
  const pool = createPool(url, { max: options.poolSize ?? 6 });
  let dropped = false;
  return {
    url,
    name,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      if (!pool.ended) await pool.end().catch(() => undefined);
      await withAdmin(serverUrl, (admin) => admin.query(`drop database if exists ${quoteIdent(name)} with (force)`));
    },
  };
}
