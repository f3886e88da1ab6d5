import { randomBytes } from 'crypto';
import { Client, Pool } from 'pg';
import { createPool, databaseUrlFromEnv, ensureDatabase, loadMigrations, migrate, quoteIdent, withDatabase } from '@app/database';
import { EVENT_STORE_SCHEMA, PostgresEventStore } from '@app/event-store';

jest.setTimeout(60_000);

const repeatable = { name: 'R__event_store', sql: EVENT_STORE_SCHEMA };

/** The store's functions as PostgreSQL lists them (name and argument types). */
async function storeFunctions(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query(
    `select p.oid::regprocedure::text as f from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' order by 1`,
  );
  return rows.map((r) => r.f);
}

describe('the event store schema (a repeatable migration)', () => {
  const name = `saga_schema_${randomBytes(4).toString('hex')}`;
  const url = withDatabase(databaseUrlFromEnv(), name);
  let pool: Pool;

  beforeAll(async () => {
    await ensureDatabase(url);
    pool = createPool(url, { max: 4 });
  });

  afterAll(async () => {
    await pool?.end();
    const admin = new Client({ connectionString: withDatabase(databaseUrlFromEnv(), 'postgres') });
    await admin.connect();
    await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    await admin.end();
  });

  it('upgrades a database migrated before it: the old functions are replaced, the events stay readable and appendable', async () => {
    // What the previous code left: the numbered migrations only (their functions), and events.
    const before = await migrate(pool, loadMigrations(), []);
    expect(before.reapplied).toEqual([]);
    expect(await storeFunctions(pool)).toContain('append_to_stream(text,text,smallint,bigint,jsonb,boolean)');
    await pool.query(
      `select * from append_to_stream('order-1', 't1', 0::smallint, null, '[{"eventId": "${'0'.repeat(8)}-0000-4000-8000-000000000001", "type": "Old", "data": {}}]', false)`,
    );

    const upgrade = await migrate(pool, loadMigrations(), [repeatable]);
    expect(upgrade).toEqual({ applied: [], alreadyApplied: loadMigrations().map((m) => m.name), reapplied: ['R__event_store'] });
    const functions = await storeFunctions(pool);
    // A process of the previous release (a rolling upgrade) still appends through the old signature.
    await pool.query(
      `select * from append_to_stream('order-1', 't1', 3::smallint, 0, '[{"eventId": "${'0'.repeat(8)}-0000-4000-8000-000000000002", "type": "OldRelease", "data": {}}]', false)`,
    );
    expect(functions).toEqual(
      expect.arrayContaining([
        'append_to_stream(text,text,smallint,bigint,jsonb)',
        'append_to_streams(jsonb,boolean,text[])',
        'lock_streams(text[])',
        'read_all_events(bigint,integer,text,text)',
        'events_safe_position()',
      ]),
    );

    const store = new PostgresEventStore(pool, { groupCommit: false });
    const appended = await store.appendToStream('order-1', [{ type: 'New', data: {} }], { tenantId: 't1', expectedVersion: 1 });
    expect(appended).toMatchObject({ firstVersion: 2, nextExpectedVersion: 2 });
    const read = await store.readStream('order-1');
    expect(read.events.map((e) => e.type)).toEqual(['Old', 'OldRelease', 'New']);
  });

  it('is applied again only when its text changes', async () => {
    expect((await migrate(pool, loadMigrations(), [repeatable])).reapplied).toEqual([]);
    const changed = { ...repeatable, sql: `${repeatable.sql}\n-- changed` };
    expect((await migrate(pool, loadMigrations(), [changed])).reapplied).toEqual(['R__event_store']);
    expect((await migrate(pool, loadMigrations(), [changed])).reapplied).toEqual([]);
  });

  it('is part of the default migration, from migrations/R__event_store.ts', async () => {
    // The text recorded is the current one, so the default run (what the app does at start) has nothing to apply.
    await migrate(pool, loadMigrations(), [repeatable]);
    expect((await migrate(pool)).reapplied).toEqual([]);
  });
});
