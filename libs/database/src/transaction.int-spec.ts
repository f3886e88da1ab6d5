import { createTestDatabase, TestDatabase, withTransaction } from '@app/database';

/** The one transaction helper: what it commits stays, what throws is rolled back, a dead connection leaves the pool. */
describe('withTransaction', () => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase({ poolSize: 2 });
    await tdb.pool.query('create table tx_probe (n int primary key)');
  }, 60_000);

  afterAll(async () => {
    await tdb?.drop();
  }, 60_000);

  const stored = async (): Promise<number[]> => (await tdb.pool.query<{ n: number }>('select n from tx_probe order by n')).rows.map((r) => r.n);

  it('commits what the function wrote and returns its result', async () => {
    const result = await withTransaction(tdb.pool, async (client) => {
      await client.query('insert into tx_probe (n) values (1), (2)');
      return 'done';
    });
    expect(result).toBe('done');
    expect(await stored()).toEqual([1, 2]);
  });

  it('rolls back everything when the function throws, and throws that same error', async () => {
    const failure = new Error('refused');
    await expect(
      withTransaction(tdb.pool, async (client) => {
        await client.query('insert into tx_probe (n) values (3)');
        throw failure;
      }),
    ).rejects.toBe(failure);
    // A failed statement aborts the transaction: rolled back as well, with PostgreSQL's error.
    await expect(withTransaction(tdb.pool, (client) => client.query('insert into tx_probe (n) values (4), (1)'))).rejects.toMatchObject({ code: '23505' });
    expect(await stored()).toEqual([1, 2]);
    // Both clients went back to the pool usable: no transaction left open on them.
    const states = await Promise.all([0, 1].map(() => withTransaction(tdb.pool, async (c) => (await c.query<{ n: number }>('select count(*)::int as n from tx_probe')).rows[0].n)));
    expect(states).toEqual([2, 2]);
  });

  it('drops a client whose connection broke, so the pool never hands it out again', async () => {
    const pids = new Set<number>();
    await expect(
      withTransaction(tdb.pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
        pids.add(rows[0].pid);
        await tdb.pool.query('select pg_terminate_backend($1)', [rows[0].pid]);
        await client.query('select 1');
      }),
    ).rejects.toThrow();
    for (let i = 0; i < 4; i++) {
      const pid = await withTransaction(tdb.pool, async (client) => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid);
      expect(pids.has(pid)).toBe(false);
    }
    expect(await stored()).toEqual([1, 2]);
  });
});
