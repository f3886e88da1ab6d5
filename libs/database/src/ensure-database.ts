import { Client } from 'pg';
import { databaseName, withDatabase } from './database.config';

/** Creates the database named in `url` when it does not exist yet (safe under concurrent callers). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  // Time limits: a silent server (a partition at start-up) must fail this, so that the caller retries.
  const admin = new Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 5000, query_timeout: 30_000 });
  admin.on('error', () => undefined); // a connection lost mid-call fails the call itself
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return;
    try {
      await admin.query(`create database ${quoteIdent(name)}`);
    } catch (err) {
      // 42P04 duplicate_database / 23505: another process created it at the same moment.
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
    }
  } finally {
    await admin.end();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
