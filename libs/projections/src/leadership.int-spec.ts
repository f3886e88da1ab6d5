import { createPool } from '@app/database';
import { PostgresEventStore } from '@app/event-store';
import { listProjectionStatus, ProjectionRunner } from '@app/projections';
import { appendTicks, appliedLogProjection, checkAppliedLog, checkpointOf, headPosition } from './testing/applied-log';
import { ProjectionChild } from './testing/child-runner';
import { useAppliedLogDatabase } from './testing/applied-log-database';
import { waitFor } from './testing/wait-for';

/**
 * Acceptance: with several instances of the same projection, exactly one applies events; when it
 * stops or dies, another takes over within seconds and goes on without applying anything twice.
 */
describe('projection leadership across instances', () => {
  const children: ProjectionChild[] = [];
  const db = useAppliedLogDatabase({ poolSize: 5, beforeDrop: () => Promise.all(children.map((c) => c.kill('SIGKILL'))) });
  const { runners, pools } = db;

  async function caughtUp(name: string): Promise<boolean> {
    const head = await headPosition(db.tdb.pool);
    const cp = await checkpointOf(db.tdb.pool, name);
    return cp.position === head && cp.status === 'LIVE';
  }

  async function instancesByPosition(name: string) {
    const { rows } = await db.tdb.pool.query(
      `select instance, count(*)::int as n, min(global_position) as min, max(global_position) as max
         from applied_events where projection = $1 group by instance order by min(global_position)`,
      [name],
    );
    return rows as { instance: string; n: number; min: number; max: number }[];
  }

  it('two runners (separate pools): only the leader applies; stop() hands over within seconds, no duplicates', async () => {
    const NAME = 'applied_two_runners';
    await appendTicks(db.store, 1500, { prefix: 'two', perAppend: 100 });

    const make = (instance: string) => {
      const pool = createPool(db.tdb.url, { max: 4 });
      pools.push(pool);
      const runner = new ProjectionRunner(pool, new PostgresEventStore(pool), [appliedLogProjection({ name: NAME, instance, delayMs: 30 })], {
        batchSize: 50,
        pollIntervalMs: 100,
        leadershipRetryMs: 100,
      });
      runners.push(runner);
      return { instance, runner };
    };
    const a = make('A');
    const b = make('B');
    await Promise.all([a.runner.start(), b.runner.start()]);

    // Exactly one leader, never two, while several batches get applied.
    let bothSeen = false;
    await waitFor(async () => {
      if (a.runner.isLeader(NAME) && b.runner.isLeader(NAME)) bothSeen = true;
      const { rows } = await db.tdb.pool.query('select count(*)::int as n from applied_events where projection = $1', [NAME]);
      return rows[0].n >= 400;
    }, { what: '400 events applied' });
    expect(bothSeen).toBe(false);
    expect([a.runner.isLeader(NAME), b.runner.isLeader(NAME)].filter(Boolean)).toHaveLength(1);
    const [leader, standby] = a.runner.isLeader(NAME) ? [a, b] : [b, a];
    expect((await instancesByPosition(NAME)).map((r) => r.instance)).toEqual([leader.instance]);
    expect(await caughtUp(NAME)).toBe(false); // handing over mid-run

    // Stop the leader mid-run: the standby takes over within a few seconds.
    const stoppedAt = Date.now();
    await leader.runner.stop();
    expect(leader.runner.isLeader(NAME)).toBe(false);
    await waitFor(() => standby.runner.isLeader(NAME), { timeoutMs: 5000, what: 'standby leadership' });
    expect(Date.now() - stoppedAt).toBeLessThan(5000);

    await waitFor(() => caughtUp(NAME), { timeoutMs: 60_000, intervalMs: 50, what: 'standby catching up' });
    // New events after the handover are applied by the new leader.
    await appendTicks(db.store, 100, { prefix: 'two-late', perAppend: 50 });
    await waitFor(() => caughtUp(NAME), { timeoutMs: 30_000, intervalMs: 50, what: 'late events applied' });

    const head = await headPosition(db.tdb.pool);
    const log = await checkAppliedLog(db.tdb.pool, NAME, head);
    expect(log).toMatchObject({ rows: 1600, distinct: 1600, duplicates: 0, missing: 0, beyond: 0 });
    // One clean cut: everything before it by the old leader, everything after by the new one.
    const byInstance = await instancesByPosition(NAME);
    expect(byInstance.map((r) => r.instance)).toEqual([leader.instance, standby.instance]);
    expect(byInstance[0].max).toBeLessThan(byInstance[1].min);
    const [status] = await listProjectionStatus(db.store, [NAME]);
    expect(status).toMatchObject({ status: 'LIVE', lag: 0, position: head });
  }, 120_000);

  it('two child processes: SIGKILL of the leader hands over within seconds, no duplicates, nothing missing', async () => {
    const NAME = 'applied_two_processes';
    await appendTicks(db.store, 1500, { prefix: 'proc', perAppend: 100 });
    const spawn = (instance: string) => {
      const child = ProjectionChild.spawn({ dbUrl: db.tdb.url, instance, projection: NAME, batchSize: 50, batchDelayMs: 40, leadershipRetryMs: 100 });
      children.push(child);
      return child;
    };
    const p1 = spawn('P1');
    const p2 = spawn('P2');
    await Promise.all([p1.next((m) => m.type === 'started'), p2.next((m) => m.type === 'started')]);
    await Promise.race([p1.next((m) => m.type === 'leader' && m.leader === true), p2.next((m) => m.type === 'leader' && m.leader === true)]);
    const [leader, standby] = p1.isLeader ? [p1, p2] : [p2, p1];
    await leader.next((m) => m.type === 'batch' && leader.count('batch') >= 5, { what: '5 batches' });

    expect(standby.count('batch')).toBe(0);
    expect(standby.messages.some((m) => m.type === 'leader' && m.leader === true)).toBe(false);
    expect((await instancesByPosition(NAME)).map((r) => r.instance)).toEqual([leader.instance]);

    // Killed inside a batch transaction.
    const lastReport = leader.messages.length;
    await leader.next((m) => m.type === 'batch', { from: lastReport, what: 'a batch in flight' });
    const killedAt = Date.now();
    expect((await leader.kill('SIGKILL')).signal).toBe('SIGKILL');
    await standby.next((m) => m.type === 'leader' && m.leader === true, { timeoutMs: 5000, what: 'takeover' });
    expect(Date.now() - killedAt).toBeLessThan(5000);

    await waitFor(() => caughtUp(NAME), { timeoutMs: 60_000, intervalMs: 50, what: 'survivor catching up' });
    expect(await standby.stop()).toEqual({ code: 0, signal: null });

    const head = await headPosition(db.tdb.pool);
    const ticks = Number((await db.tdb.pool.query(`select count(*) as n from events where type = 'Tick'`)).rows[0].n);
    const log = await checkAppliedLog(db.tdb.pool, NAME, head);
    expect(log).toMatchObject({ rows: ticks, distinct: ticks, duplicates: 0, missing: 0, beyond: 0 });
    const byInstance = await instancesByPosition(NAME);
    expect(byInstance.map((r) => r.instance)).toEqual([leader.instance, standby.instance]);
    expect(byInstance[0].max).toBeLessThan(byInstance[1].min);
  }, 120_000);
});
