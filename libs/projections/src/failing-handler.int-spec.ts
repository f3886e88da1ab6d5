import { listProjectionStatus, Projection, ProjectionRunner, ProjectionStatusView } from '@app/projections';
import { appliedLogProjection, checkAppliedLog, checkpointOf, headPosition, isCaughtUp } from './testing/applied-log';
import { useAppliedLogDatabase } from './testing/applied-log-database';
import { waitFor } from './testing/wait-for';

/**
 * Acceptance: an event that makes a handler throw stops only that projection (FAILED, with the
 * error, checkpoint before the event); the others go on; once the cause is fixed it resumes by
 * itself (retry with backoff) and catches up with every event applied once.
 */
describe('a failing projection handler', () => {
  let runner: ProjectionRunner;
  const db = useAppliedLogDatabase({ poolSize: 8, beforeDrop: async () => runner?.stop() });

  const status = async (name: string): Promise<ProjectionStatusView> => (await listProjectionStatus(db.store, [name]))[0];

  it('fails only that projection, keeps its checkpoint before the poison event, and resumes by itself after the fix', async () => {
    // 100 ticks, the poison, 99 more ticks: one append so positions are contiguous.
    const events = Array.from({ length: 200 }, (_, i) => ({ type: 'Tick', data: { i, poison: i === 100 } }));
    await db.store.appendToStream('poison-1', events, { tenantId: 't1' });
    const { rows } = await db.tdb.pool.query<{ global_position: number }>('select global_position from events order by global_position');
    const positions = rows.map((r) => r.global_position);
    const poisonAt = positions[100];

    let broken = true;
    let poisonAttempts = 0;
    const base = appliedLogProjection({ name: 'fragile', instance: 'r1' });
    const fragile: Projection = {
      ...base,
      async handle(batch, ctx) {
        // Written before it throws: the rollback must remove these rows again.
        await base.handle(batch, ctx);
        const poison = batch.find((e) => (e.data as { poison?: boolean }).poison);
        if (poison && broken) {
          poisonAttempts++;
          throw new Error(`poison pill at position ${poison.globalPosition}`);
        }
      },
    };
    const sturdy = appliedLogProjection({ name: 'sturdy', instance: 'r1' });
    runner = new ProjectionRunner(db.tdb.pool, db.store, [fragile, sturdy], { batchSize: 20, pollIntervalMs: 50, leadershipRetryMs: 100 });
    await runner.start();

    await waitFor(async () => (await status('fragile')).status === 'FAILED', { what: 'fragile FAILED' });
    const failed = await status('fragile');
    expect(failed.lastError).toBe(`poison pill at position ${poisonAt}`);
    // Batches of 20 from the start: the last committed one ends on the event just before the poison.
    expect(failed.position).toBe(positions[99]);
    expect(await checkAppliedLog(db.tdb.pool, 'fragile', failed.position)).toMatchObject({ rows: 100, duplicates: 0, missing: 0, beyond: 0 });

    // The other projection of the same runner goes on to the end.
    await waitFor(() => isCaughtUp(db.tdb.pool, 'sturdy'), { what: 'sturdy LIVE' });
    expect(await checkAppliedLog(db.tdb.pool, 'sturdy', positions[199])).toMatchObject({ rows: 200, duplicates: 0, missing: 0 });

    // It keeps retrying (with backoff) and stays FAILED while the cause is there; new events still
    // reach the healthy projection.
    await waitFor(() => poisonAttempts >= 3, { what: '3 attempts' });
    await db.store.appendToStream('poison-2', [{ type: 'Tick', data: { late: true } }], { tenantId: 't1' });
    await waitFor(() => isCaughtUp(db.tdb.pool, 'sturdy'), { what: 'sturdy applying the late event' });
    expect((await checkpointOf(db.tdb.pool, 'sturdy')).position).toBeGreaterThan(positions[199]);
    const stillFailed = await status('fragile');
    expect(stillFailed).toMatchObject({ status: 'FAILED', position: positions[99], lastError: `poison pill at position ${poisonAt}` });
    expect(stillFailed.lag).toBe(101);
    expect(runner.isLeader('fragile')).toBe(true);

    // The fix: no restart, no wake-up, no new event; the retry picks it up.
    broken = false;
    await waitFor(async () => (await status('fragile')).status === 'LIVE', { timeoutMs: 40_000, intervalMs: 50, what: 'fragile LIVE again' });
    const head = await headPosition(db.tdb.pool);
    const recovered = await status('fragile');
    expect(recovered).toEqual({ name: 'fragile', position: head, lag: 0, status: 'LIVE' }); // lastError cleared
    expect(await checkAppliedLog(db.tdb.pool, 'fragile', head)).toMatchObject({ rows: 201, distinct: 201, duplicates: 0, missing: 0 });
  }, 120_000);
});
