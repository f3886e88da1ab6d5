import { listProjectionStatus, ProjectionRunner } from '@app/projections';
import { appendTicks, appliedLogProjection, checkAppliedLog, headPosition, isCaughtUp } from './testing/applied-log';
import { useAppliedLogDatabase } from './testing/applied-log-database';
import { waitFor } from './testing/wait-for';

/** Acceptance: the status reports a projection's lag as the number of events it has not applied. */
describe('projection lag', () => {
  const db = useAppliedLogDatabase({ poolSize: 6 });
  const { runners } = db;

  const newRunner = () => {
    const r = new ProjectionRunner(db.tdb.pool, db.store, [appliedLogProjection({ name: 'lagging', instance: `r${runners.length}` })], {
      batchSize: 10,
      pollIntervalMs: 50,
    });
    runners.push(r);
    return r;
  };
  const status = async () => (await listProjectionStatus(db.store, ['lagging']))[0];

  it('is the number of unapplied events while stopped, and 0 once the runner is back (LIVE)', async () => {
    await appendTicks(db.store, 10, { prefix: 'lag', otherEvery: 1000 });
    const first = newRunner();
    await first.start();
    await waitFor(() => isCaughtUp(db.tdb.pool, 'lagging'), { what: 'first LIVE' });
    await first.stop();

    // 25 events while nobody applies them: 20 ticks and 5 of a type the projection does not read
    // (they count too: its checkpoint has not passed them).
    await appendTicks(db.store, 20, { prefix: 'lag', perAppend: 8, otherEvery: 4 });
    expect(await db.tdb.pool.query('select count(*)::int as n from events').then((r) => r.rows[0].n)).toBe(35);
    // (An event counts once it is safely readable: once older transactions of the server ended.)
    await waitFor(async () => (await status()).lag >= 25, { what: 'lag 25' });
    const stopped = await status();
    expect(stopped.lag).toBe(25);
    expect(stopped.position).toBeLessThan(await headPosition(db.tdb.pool));

    const second = newRunner();
    await second.start();
    await waitFor(() => isCaughtUp(db.tdb.pool, 'lagging'), { what: 'LIVE with lag 0' });
    const head = await headPosition(db.tdb.pool);
    expect(await status()).toEqual({ name: 'lagging', position: head, lag: 0, status: 'LIVE' });
    expect(await checkAppliedLog(db.tdb.pool, 'lagging', head)).toMatchObject({ rows: 30, duplicates: 0, missing: 0 });
  }, 60_000);

  it('counts only committed events: an open append transaction does not show as lag', async () => {
    const before = await status();
    const held = await db.tdb.pool.connect();
    try {
      await held.query('begin');
      await db.store.appendToStream('lag-open', [{ type: 'Tick', data: {} }], { tenantId: 't1', tx: held });
      expect((await status()).lag).toBe(before.lag);
      await held.query('commit');
    } finally {
      held.release();
    }
    await waitFor(async () => (await status()).position > before.position && (await isCaughtUp(db.tdb.pool, 'lagging')), { what: 'applied' });
  }, 60_000);
});
