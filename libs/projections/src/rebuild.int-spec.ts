import { isDeepStrictEqual } from 'util';
import { Pool } from 'pg';
import { createPool, createTestDatabase, dropTestDatabase, TestDatabase } from '@app/database';
import { PostgresEventStore, RecordedEvent } from '@app/event-store';
import { defineRowProjection, listProjectionStatus, Projection, ProjectionRunner, ProjectionStatusView } from '@app/projections';
import { isCaughtUp } from './testing/applied-log';
import { delay, waitFor } from './testing/wait-for';

/**
 * Acceptance: a rebuild from zero yields the same tables as live processing, shows REBUILDING with
 * progress and then LIVE, keeps the live tables answering (old, complete data) while it runs, and
 * does not lose events appended meanwhile.
 */

type Data = { account: string; amount?: number };

const balancesDef = (table: string) =>
  defineRowProjection({
    name: table,
    table,
    key: ['account'],
    eventTypes: ['Deposited', 'Withdrawn', 'Closed'],
    keys: (e) => [{ account: (e.data as Data).account }],
    evolve: (row, e) => {
      const d = e.data as Data;
      if (e.type === 'Closed') return row ? null : undefined;
      const sign = e.type === 'Deposited' ? 1 : -1;
      return {
        balance: Number(row?.balance ?? 0) + sign * d.amount!,
        ops: Number(row?.ops ?? 0) + 1,
        last_position: e.globalPosition,
        last: { type: e.type, amount: d.amount },
      };
    },
  });

const balancesDdl = (table: string) => [
  `create table ${table} (account text primary key, balance bigint not null, ops integer not null,
                          last_position bigint not null, last jsonb)`,
  `create index ${table}_by_balance_idx on ${table} (balance desc, account)`,
];

/** A projection over two tables, written with plain SQL (unqualified names, as the rebuild requires). */
const ledger: Projection = {
  name: 'ledger',
  tables: ['ledger_entries', 'ledger_totals'],
  eventTypes: ['Deposited', 'Withdrawn'],
  async handle(events, { tx }) {
    const amounts = events.map((e) => ((e.type === 'Deposited' ? 1 : -1) * (e.data as Data).amount!));
    const args = [events.map((e) => e.globalPosition), events.map((e) => (e.data as Data).account), amounts];
    await tx.query(
      `insert into ledger_entries (position, account, amount) select * from unnest($1::bigint[], $2::text[], $3::bigint[])`,
      args,
    );
    await tx.query(
      `insert into ledger_totals (account, total, entries)
       select account, sum(amount), count(*) from unnest($1::bigint[], $2::text[], $3::bigint[]) as e(position, account, amount)
        group by account
       on conflict (account) do update set total = ledger_totals.total + excluded.total, entries = ledger_totals.entries + excluded.entries`,
      args,
    );
  },
};

/** The same projection, made slow per batch so a rebuild in small batches takes a couple of seconds. */
function slow(p: Projection, ms: number): Projection {
  return { ...p, handle: async (events: RecordedEvent[], ctx) => { await p.handle(events, ctx); await delay(ms); } };
}

/** Deterministic pseudo-random bank activity: deposits, withdrawals and closures (row deletes). */
async function appendActivity(store: PostgresEventStore, count: number, seed: number, accountPrefix = 'acc'): Promise<void> {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let chunk = 0; chunk * 100 < count; chunk++) {
    const events = Array.from({ length: Math.min(100, count - chunk * 100) }, () => {
      const account = `${accountPrefix}-${Math.floor(rnd() * 150)}`;
      const r = rnd();
      const type = r < 0.6 ? 'Deposited' : r < 0.96 ? 'Withdrawn' : 'Closed';
      return { type, data: { account, amount: 1 + Math.floor(rnd() * 500) } };
    });
    await store.appendToStream(`bank-${chunk % 7}`, events, { tenantId: 't1' });
  }
}

describe('projection rebuild', () => {
  let tdb: TestDatabase;
  let store: PostgresEventStore;
  let readers: Pool;
  let runner: ProjectionRunner;

  const status = async (name: string): Promise<ProjectionStatusView> => (await listProjectionStatus(store, [name]))[0];
  const table = async (sql: string, db: Pool = tdb.pool) => (await db.query(sql)).rows;
  const indexes = (t: string) =>
    table(`select regexp_replace(indexdef, 'INDEX \\S+ ON ', 'INDEX ON ') as def from pg_indexes
            where schemaname = 'public' and tablename = '${t}' order by 1`);
  const live = async (...names: string[]) => {
    for (const n of names) if (!(await isCaughtUp(tdb.pool, n))) return false;
    return true;
  };

  beforeAll(async () => {
    tdb = await createTestDatabase({ poolSize: 8 });
    store = new PostgresEventStore(tdb.pool);
    for (const sql of [
      ...balancesDdl('balances'),
      ...balancesDdl('balances_twin'),
      'create table ledger_entries (position bigint primary key, account text not null, amount bigint not null)',
      'create index ledger_entries_account_idx on ledger_entries (account, position)',
      'create table ledger_totals (account text primary key, total bigint not null, entries integer not null)',
    ]) {
      await tdb.pool.query(sql);
    }
    await appendActivity(store, 4000, 42);
    readers = createPool(tdb.url, { max: 3 });
    runner = new ProjectionRunner(
      tdb.pool,
      store,
      [slow(balancesDef('balances'), 15), balancesDef('balances_twin'), slow(ledger, 15)],
      { batchSize: 500, rebuildBatchSize: 40, pollIntervalMs: 50, leadershipRetryMs: 100 },
    );
    await runner.start();
    await waitFor(() => live('balances', 'balances_twin', 'ledger'), { timeoutMs: 60_000, intervalMs: 50, what: 'live projections' });
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
    await dropTestDatabase(tdb, readers ? [readers] : []);
  }, 60_000);

  /**
   * Reads `sql` from the live table over another pool, in a loop, until stopped; counts the reads
   * that both started and ended while `name` was REBUILDING, and whether they equal `expected`.
   */
  function readDuringRebuild(name: string, sql: string, expected: unknown[]) {
    const seen = { duringRebuild: 0, differing: 0, errors: [] as string[], progress: [] as number[], lags: [] as number[] };
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          const [before] = await listProjectionStatus(new PostgresEventStore(readers), [name]);
          const { rows } = await readers.query({ name: `read_${name}`, text: sql });
          const [after] = await listProjectionStatus(new PostgresEventStore(readers), [name]);
          if (before.status === 'REBUILDING' && after.status === 'REBUILDING') {
            seen.duringRebuild++;
            if (!isDeepStrictEqual(rows, expected)) seen.differing++;
            seen.progress.push(after.rebuild!.position);
            seen.lags.push(after.lag);
          }
        } catch (err) {
          seen.errors.push((err as Error).message);
        }
      }
    })();
    return {
      seen,
      stop: async () => {
        running = false;
        await loop;
        return seen;
      },
    };
  }

  it('rebuilds a live row projection to the same rows, while the live table keeps answering with the old complete data', async () => {
    const head = (await status('balances')).position;
    const before = await table('select * from balances order by account');
    const indexesBefore = await indexes('balances');
    expect(before.length).toBeGreaterThan(100);
    // The live projection is right in the first place: same rows as its twin.
    expect(before).toEqual(await table('select * from balances_twin order by account'));

    const reads = readDuringRebuild('balances', 'select * from balances order by account', before);
    expect(await runner.rebuild('balances')).toBe(true);
    // REBUILDING at once, from position 0, with the whole log as its lag.
    const started = await status('balances');
    expect(started.status).toBe('REBUILDING');
    expect(started.rebuild?.startedAt).toEqual(expect.any(String));
    await waitFor(async () => (await status('balances')).status === 'LIVE', { timeoutMs: 60_000, intervalMs: 20, what: 'rebuild done' });
    const seen = await reads.stop();

    expect(seen.errors).toEqual([]);
    expect(seen.duringRebuild).toBeGreaterThanOrEqual(5);
    expect(seen.differing).toBe(0);
    // Progress: the rebuild position moves forward through the log, the lag goes down.
    expect(seen.progress).toEqual([...seen.progress].sort((x, y) => x - y));
    expect(new Set(seen.progress.filter((p) => p > 0 && p < head)).size).toBeGreaterThanOrEqual(2);
    expect(Math.max(...seen.lags)).toBeGreaterThan(Math.min(...seen.lags));

    expect(await table('select * from balances order by account')).toEqual(before);
    expect(await indexes('balances')).toEqual(indexesBefore);
    expect(await status('balances')).toEqual({ name: 'balances', position: head, lag: 0, status: 'LIVE' });
    // The work schema is gone.
    expect(await table(`select nspname from pg_namespace where nspname like 'rebuild_%'`)).toEqual([]);
  }, 120_000);

  it('applies the events appended while the rebuild runs; the result equals the twin that stayed live', async () => {
    const before = await table('select * from balances order by account');
    const reads = readDuringRebuild('balances', 'select * from balances order by account', before);
    await runner.rebuild('balances');
    await waitFor(async () => ((await status('balances')).rebuild?.position ?? 0) > 0, { intervalMs: 5, what: 'rebuild progress' });

    // New accounts, and more activity (deposits, withdrawals, closures) on existing ones.
    await appendActivity(store, 150, 7, 'late');
    await appendActivity(store, 150, 99);
    expect((await status('balances')).status).toBe('REBUILDING'); // the appends landed during the rebuild

    await waitFor(() => live('balances', 'balances_twin'), { timeoutMs: 60_000, intervalMs: 20, what: 'rebuild done and caught up' });
    const seen = await reads.stop();
    expect(seen.errors).toEqual([]);
    expect(seen.duringRebuild).toBeGreaterThanOrEqual(1);
    expect(seen.differing).toBe(0);

    const after = await table('select * from balances order by account');
    expect(after).toEqual(await table('select * from balances_twin order by account'));
    expect(after.filter((r) => String(r.account).startsWith('late-')).length).toBeGreaterThan(10);
    expect(after).not.toEqual(before);
    const head = Number((await tdb.pool.query('select max(global_position) as p from events')).rows[0].p);
    expect((await status('balances')).position).toBe(head);
  }, 120_000);

  it('rebuilds a projection of two tables: both equal row for row, swapped together', async () => {
    await waitFor(() => live('ledger'), { timeoutMs: 60_000, intervalMs: 20, what: 'ledger live' });
    const entries = await table('select * from ledger_entries order by position');
    const totals = await table('select * from ledger_totals order by account');
    const indexesBefore = [await indexes('ledger_entries'), await indexes('ledger_totals')];
    expect(entries.length).toBeGreaterThan(3000);

    const reads = readDuringRebuild('ledger', 'select * from ledger_totals order by account', totals);
    await runner.rebuild('ledger');
    const statuses = new Set<string>();
    await waitFor(async () => {
      const s = await status('ledger');
      statuses.add(s.status);
      return s.status === 'LIVE';
    }, { timeoutMs: 60_000, intervalMs: 20, what: 'ledger rebuilt' });
    const seen = await reads.stop();

    expect([...statuses]).toEqual(['REBUILDING', 'LIVE']);
    expect(seen.errors).toEqual([]);
    expect(seen.duringRebuild).toBeGreaterThanOrEqual(5);
    expect(seen.differing).toBe(0);
    expect(await table('select * from ledger_entries order by position')).toEqual(entries);
    expect(await table('select * from ledger_totals order by account')).toEqual(totals);
    expect([await indexes('ledger_entries'), await indexes('ledger_totals')]).toEqual(indexesBefore);
  }, 120_000);

  it('answers false for a projection it does not know', async () => {
    expect(await runner.rebuild('no_such_projection')).toBe(false);
  }, 60_000);
});
