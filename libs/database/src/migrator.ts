import { createHash } from 'crypto';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join, resolve, dirname } from 'path';
import { Pool, PoolClient } from 'pg';
import { inTransaction } from './transaction';

export interface Migration {
  name: string;
  sql: string;
}

/** A repeatable migration: applied after the versioned ones, and again whenever its SQL changes. */
export interface Repeatable {
  name: string;
  sql: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
  /** Repeatable migrations applied by this run (new, or their SQL changed). */
  reapplied: string[];
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
 * Repeatable migrations, as Flyway's `R__` files: `R__name.sql`, or a module `R__name.ts` / `.js`
 * exporting `sql` — for SQL that a library defines in its own code (the event store's functions,
 * libs/event-store), which the migrations folder hands over without libs/database depending on
 * that library. In name order.
 */
export function loadRepeatables(dir = defaultMigrationsDir()): Repeatable[] {
  return readdirSync(dir)
    .filter((f) => /^R__.+\.(sql|ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .sort()
    .map((file) => {
      const name = file.replace(/\.(sql|ts|js)$/, '');
      if (file.endsWith('.sql')) return { name, sql: readFileSync(join(dir, file), 'utf8') };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const sql = (require(join(dir, file)) as { sql?: unknown }).sql;
      if (typeof sql !== 'string') throw new Error(`repeatable migration ${file} must export its SQL as \`sql\` (a string)`);
      return { name, sql };
    });
}

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

/**
 * Applies every migration not yet recorded in `schema_migrations`, each once, in order, each in
 * its own transaction together with its record; then every repeatable migration whose checksum
 * differs from the one recorded in `schema_repeatables`, likewise. Kysely's Migrator runs all
 * pending migrations in a single transaction and wants TypeScript modules; we keep plain SQL files
 * and per-file atomicity.
 */
export async function migrate(
  pool: Pool,
  migrations: Migration[] = loadMigrations(),
  repeatables: Repeatable[] = loadRepeatables(),
): Promise<MigrationResult> {
  const client: PoolClient = await pool.connect();
  const result: MigrationResult = { applied: [], alreadyApplied: [], reapplied: [] };
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
        try {
          await inTransaction(client, async () => {
            await client.query(m.sql);
            await client.query('insert into schema_migrations (name) values ($1)', [m.name]);
          });
          result.applied.push(m.name);
        } catch (err) {
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
        }
      }
      await client.query(
        `create table if not exists schema_repeatables (
           name       text primary key,
           checksum   text not null,
           applied_at timestamptz not null default now()
         )`,
      );
      const recorded = new Map(
        (await client.query<{ name: string; checksum: string }>('select name, checksum from schema_repeatables')).rows.map((r) => [r.name, r.checksum]),
      );
      for (const r of repeatables) {
        const sum = checksum(r.sql);
        if (recorded.get(r.name) === sum) continue;
        try {
          await inTransaction(client, async () => {
            await client.query(r.sql);
            await client.query(
              `insert into schema_repeatables (name, checksum) values ($1, $2)
               on conflict (name) do update set checksum = excluded.checksum, applied_at = now()`,
              [r.name, sum],
            );
          });
          result.reapplied.push(r.name);
        } catch (err) {
          throw new Error(`repeatable migration ${r.name} failed: ${(err as Error).message}`);
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
