import { existsSync, readdirSync, readFileSync } from 'fs';
import { join, resolve, dirname } from 'path';
import { Pool, PoolClient } from 'pg';

export interface Migration {
  name: string;
  sql: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

// Arbitrary constant: the session-level advisory lock that serialises migration runs, so two
// processes starting at the same moment never apply the same migration twice.
const MIGRATION_LOCK_KEY = 7_411_203_001;

/** The repository's `migrations/` folder, found upwards from this file (works from src and dist). */
export function defaultMigrationsDir(): string {
  if (process.env.MIGRATIONS_DIR) return resolve(process.env.MIGRATIONS_DIR);
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  return resolve(process.cwd(), 'migrations');
}

/** SQL files named `NNN_description.sql`, in name order. */
export function loadMigrations(dir = defaultMigrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(dir, name), 'utf8') }));
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, each once, in order, each in
 * its own transaction together with its record. Kysely's Migrator runs all pending migrations in a
 * single transaction and wants TypeScript modules; we keep plain SQL files and per-file atomicity.
 */
export async function migrate(pool: Pool, migrations: Migration[] = loadMigrations()): Promise<MigrationResult> {
  const client: PoolClient = await pool.connect();
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(
        `create table if not exists schema_migrations (
           name text primary key,
           applied_at timestamptz not null default now()
         )`,
      );
      const { rows } = await client.query<{ name: string }>('select name from schema_migrations');
      const done = new Set(rows.map((r) => r.name));
      for (const m of migrations) {
        if (done.has(m.name)) {
          result.alreadyApplied.push(m.name);
          continue;
        }
        await client.query('begin');
        try {
          await client.query(m.sql);
          await client.query('insert into schema_migrations (name) values ($1)', [m.name]);
          await client.query('commit');
          result.applied.push(m.name);
        } catch (err) {
          await client.query('rollback');
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
        }
      }
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return result;
}
