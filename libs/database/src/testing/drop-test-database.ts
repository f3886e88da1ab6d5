import { Client, Pool } from 'pg';
import { withDatabase } from '../database.config';
import { TestDatabase } from './test-database';
import { waitFor } from './wait-for';

/**
 * Ends the spec's pools, waits until the server has closed all their connections (and those of
 * killed child processes), then drops the database.
 *
 * Why wait: pool.end() resolves before its connections are closed on the server, and drop()
 * terminates whatever is still open. A connection that a stopped ProjectionRunner once used as its
 * leadership connection still carries the runner's 'error' listener, which then calls release()
 * a second time and throws an uncaught exception (see runner-regressions.int-spec.ts).
 */
export async function dropTestDatabase(tdb: TestDatabase | undefined, pools: Pool[] = []): Promise<void> {
  if (!tdb) return;
  for (const pool of [...pools, tdb.pool]) if (!pool.ending && !pool.ended) await pool.end();
  const admin = new Client({ connectionString: withDatabase(tdb.url, 'postgres') });
  await admin.connect();
  try {
    await waitFor(
      async () => (await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [tdb.name])).rows[0].n === 0,
      { what: `all connections to ${tdb.name} closed` },
    );
  } finally {
    await admin.end();
  }
  await tdb.drop();
}
