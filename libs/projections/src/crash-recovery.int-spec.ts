import { createTestDatabase, dropTestDatabase, TestDatabase } from '@app/database';
import { PostgresEventStore } from '@app/event-store';
import { APPLIED_EVENTS_DDL, appendTicks, checkAppliedLog, checkpointOf, headPosition, TICK } from './testing/applied-log';
import { ProjectionChild } from './testing/child-runner';
import { waitFor } from './testing/wait-for';

/**
 * Acceptance: a projection runner killed (SIGKILL) at any moment, several times, and restarted,
 * ends with every event applied exactly once and its checkpoint on the last event.
 */
describe('projection runner killed mid-run (child process, SIGKILL)', () => {
  const PROJECTION = 'applied_crash';
  const TICKS = 3000;
  let tdb: TestDatabase;
  const children: ProjectionChild[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase({ poolSize: 5 });
    await tdb.pool.query(APPLIED_EVENTS_DDL);
    // 3,000 ticks plus 300 events of a type the projection skips (its checkpoint passes them).
    await appendTicks(new PostgresEventStore(tdb.pool), TICKS, { streams: 12, perAppend: 100, otherEvery: 10 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await dropTestDatabase(tdb);
  }, 60_000);

  const spawn = (run: number) => {
    const child = ProjectionChild.spawn({
      dbUrl: tdb.url,
      instance: `run-${run}`,
      projection: PROJECTION,
      batchSize: 50,
      // Most of a batch's time is spent inside its open transaction: a kill on a `batch` report
      // lands between the read-model writes and the commit.
      batchDelayMs: 60,
      leadershipRetryMs: 50,
    });
    children.push(child);
    return child;
  };

  /** After a crash, the read model must be exactly the events up to the checkpoint. */
  async function expectConsistentWithCheckpoint() {
    const cp = await checkpointOf(tdb.pool, PROJECTION);
    const log = await checkAppliedLog(tdb.pool, PROJECTION, cp.position);
    expect({ duplicates: log.duplicates, missing: log.missing, beyond: log.beyond }).toEqual({ duplicates: 0, missing: 0, beyond: 0 });
    return { cp, log };
  }

  it('applies each of 3,000 events exactly once across 4 SIGKILLs and restarts; the checkpoint ends on the last position', async () => {
    const head = await headPosition(tdb.pool);
    const totalEvents = Number((await tdb.pool.query('select count(*) as n from events')).rows[0].n);
    expect(totalEvents).toBe(3300);

    // Kill modes: `mid-batch` right after a batch wrote its rows, inside its open transaction;
    // `after-commit` right after the checkpoint moved (between batches).
    const plan: { mode: 'mid-batch' | 'after-commit'; afterBatches: number }[] = [
      { mode: 'mid-batch', afterBatches: 8 },
      { mode: 'after-commit', afterBatches: 6 },
      { mode: 'mid-batch', afterBatches: 10 },
      { mode: 'after-commit', afterBatches: 5 },
    ];
    let midBatchKillsThatLostTheirBatch = 0;
    let previous = 0;

    for (const [run, kill] of plan.entries()) {
      const child = spawn(run);
      await child.next((m) => m.type === 'batch' && child.count('batch') >= kill.afterBatches, {
        what: `${kill.afterBatches} batches`,
      });
      if (kill.mode === 'after-commit') {
        const before = (await checkpointOf(tdb.pool, PROJECTION)).position;
        await waitFor(async () => (await checkpointOf(tdb.pool, PROJECTION)).position > before, {
          intervalMs: 2,
          what: 'the next commit',
        });
      }
      const inFlight = child.messages.filter((m) => m.type === 'batch').pop()!;
      const exit = await child.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');

      const { cp, log } = await expectConsistentWithCheckpoint();
      expect(cp.position).toBeGreaterThanOrEqual(previous);
      expect(cp.position).toBeLessThan(head); // it really died mid-run
      if (kill.mode === 'mid-batch' && cp.position < (inFlight.last as number)) midBatchKillsThatLostTheirBatch++;
      expect(log.rows).toBe(log.distinct);
      previous = cp.position;
    }
    // At least one kill landed inside a batch transaction whose rows were already written.
    expect(midBatchKillsThatLostTheirBatch).toBeGreaterThanOrEqual(1);
    expect(previous).toBeGreaterThan(0);

    // The last run finishes the log.
    const last = spawn(plan.length);
    await waitFor(async () => {
      const cp = await checkpointOf(tdb.pool, PROJECTION);
      return cp.position === head && cp.status === 'LIVE';
    }, { timeoutMs: 60_000, intervalMs: 50, what: 'the checkpoint reaching the last event' });
    const exit = await last.stop();
    expect(exit).toEqual({ code: 0, signal: null });

    const cp = await checkpointOf(tdb.pool, PROJECTION);
    expect(cp).toEqual({ position: head, status: 'LIVE' });
    const log = await checkAppliedLog(tdb.pool, PROJECTION, head);
    expect(log).toMatchObject({ rows: TICKS, distinct: TICKS, duplicates: 0, missing: 0, beyond: 0 });
    // Work was done by several of the processes, the killed ones included.
    expect(log.instances.length).toBeGreaterThanOrEqual(3);
    const ticks = Number((await tdb.pool.query('select count(*) as n from events where type = $1', [TICK])).rows[0].n);
    expect(ticks).toBe(TICKS);
  }, 120_000);
});
