import { Pool } from 'pg';
import { createPool, createTestDatabase, TestDatabase, waitFor } from '@app/database';
import { scheduleAggregateId, scheduleFireKey } from '@app/domain';
import { fireSchedule } from './fire-schedule';
import { Scheduler } from './scheduler';
import { ManualClock } from './testing/manual-clock';
import { createSchedule, createScheduleRuntime, indexed, sagasStartedBy, scheduleOf, ScheduleRuntime, settled, workflowBody } from './testing/schedule-test-kit';

jest.setTimeout(120_000);

const TENANT = 'sched-tenant';
const minute = (m: number, s = 0) => new Date(Date.UTC(2030, 0, 7, 10, m, s)).toISOString();

let tdb: TestDatabase;
let pool: Pool;
let rt: ScheduleRuntime;
const schedulers: Scheduler[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 1 });
  pool = createPool(tdb.url, { max: 8, connectionTimeoutMillis: 30_000 });
  rt = createScheduleRuntime(pool);
  await rt.projections.start();
  await rt.executor.startWorker();
});

// Each test's schedules go away with it: the next test's clock would find them due.
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
  const { rows } = await pool.query<{ schedule_id: string }>('select schedule_id from schedules where tenant_id = $1', [TENANT]);
  for (const { schedule_id } of rows) {
    await rt.commands.dispatch({ aggregate: 'schedule', id: scheduleAggregateId(TENANT, schedule_id), tenantId: TENANT, command: { type: 'DeleteSchedule', data: { at: new Date().toISOString() } } });
    await indexed(pool, TENANT, schedule_id, (row) => row === undefined);
  }
});

afterAll(async () => {
  await rt?.executor.stopWorker();
  await rt?.projections.stop();
  await pool?.end();
  await tdb?.drop();
});

/** `n` schedulers (workers) on one database, all reading `clock`. */
function workers(n: number, clock: ManualClock): Scheduler[] {
  const made = Array.from({ length: n }, () => new Scheduler(pool, rt.commands, rt.executor, { clock }));
  schedulers.push(...made);
  return made;
}

/** One round of every scheduler at once (as their loops would run side by side). */
const round = (all: Scheduler[]) => Promise.all(all.map((s) => s.tick()));

describe('scheduler (injected clock)', () => {
  it('three workers for three minutes of `* * * * *`: exactly one saga per fire, one leader', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'every-minute', at: minute(0, 30) });
    const all = workers(3, clock);
    // Every 10 s of the three minutes, each worker runs a round; each saga finishes before the next fire.
    for (let t = 40; t <= 3 * 60 + 30; t += 10) {
      clock.set(minute(0, 0));
      clock.advance(t * 1000);
      await round(all);
      await round(all);
      for (const { sagaId } of await sagasStartedBy(rt, 'every-minute')) await settled(rt, sagaId);
    }
    expect(all.filter((s) => s.isLeader)).toHaveLength(1);

    const sagas = await sagasStartedBy(rt, 'every-minute');
    expect(sagas.map((s) => s.key)).toEqual([1, 2, 3].map((m) => scheduleFireKey('every-minute', minute(m))));
    const schedule = await scheduleOf(rt, TENANT, 'every-minute');
    expect(schedule.recentRuns).toEqual([3, 2, 1].map((m, i) => ({ at: minute(m), sagaId: sagas[2 - i].sagaId })));
    const started = await rt.executor.load(sagas[0].sagaId);
    expect(started?.state).toMatchObject({ tenantId: TENANT, sagaType: 'task-workflow', idempotencyKey: scheduleFireKey('every-minute', minute(1)) });
  });

  it('after all workers were down for two minutes: one catch-up fire, not one per missed minute', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'catch-up', at: minute(0, 30) });
    let all = workers(3, clock);
    clock.set(minute(1, 5));
    await round(all);
    await Promise.all(all.map((s) => s.stop()));

    // Down from 10:01:30 to 10:03:30: 10:02 and 10:03 pass with no worker.
    clock.set(minute(3, 30));
    all = workers(3, clock);
    await round(all);
    await round(all);
    clock.set(minute(3, 50));
    await round(all);
    // The global log is read up to its gap-safety horizon, which transactions of other test files
    // (other databases, same cluster) can hold back for a moment: wait until the fires show.
    await waitFor(async () => (await sagasStartedBy(rt, 'catch-up')).length >= 2, { what: 'the catch-up fire in the log', timeoutMs: 15_000 }).catch(() => undefined);
    expect((await sagasStartedBy(rt, 'catch-up')).map((s) => s.key)).toEqual([minute(1), minute(3)].map((t) => scheduleFireKey('catch-up', t)));

    // Then on as usual.
    for (const { sagaId } of await sagasStartedBy(rt, 'catch-up')) await settled(rt, sagaId);
    clock.set(minute(4, 1));
    await round(all);
    const runs = (await scheduleOf(rt, TENANT, 'catch-up')).recentRuns.map((r) => r.at);
    expect(runs).toEqual([minute(4), minute(3), minute(1)]);
  });

  it('overlap skip: a fire while the previous saga runs is recorded as skipped; the next one fires again', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'slow', at: minute(0, 30), body: workflowBody(2500) });
    const all = workers(2, clock);
    clock.set(minute(1));
    await round(all);
    const [first] = await sagasStartedBy(rt, 'slow');
    expect((await rt.executor.load(first.sagaId))?.state.status).toBe('RUNNING');

    clock.set(minute(2));
    await round(all);
    expect((await scheduleOf(rt, TENANT, 'slow')).recentRuns).toEqual([
      { at: minute(2), skipped: true },
      { at: minute(1), sagaId: first.sagaId },
    ]);
    const skipped = (await rt.store.readStream(`schedule-${scheduleAggregateId(TENANT, 'slow')}`)).events.find((e) => e.type === 'ScheduleFireSkipped');
    expect(skipped?.data).toMatchObject({ fireTime: minute(2), reason: 'OVERLAP', runningSagaId: first.sagaId });

    await settled(rt, first.sagaId);
    clock.set(minute(3));
    await round(all);
    const sagas = await sagasStartedBy(rt, 'slow');
    expect(sagas.map((s) => s.key)).toEqual([minute(1), minute(3)].map((t) => scheduleFireKey('slow', t)));
    await settled(rt, sagas[1].sagaId);
  });

  it('a paused schedule does not fire, and after a resume it does not make up the missed times', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'paused', at: minute(0, 30), paused: true });
    const all = workers(2, clock);
    for (const m of [1, 2, 3]) {
      clock.set(minute(m, 1));
      await round(all);
    }
    expect(await sagasStartedBy(rt, 'paused')).toEqual([]);

    const id = scheduleAggregateId(TENANT, 'paused');
    const resumed = await rt.commands.dispatch({ aggregate: 'schedule', id, tenantId: TENANT, command: { type: 'ResumeSchedule', data: { at: minute(3, 30) } } });
    await indexed(pool, TENANT, 'paused', (row) => row?.version === resumed.version);
    clock.set(minute(3, 50));
    await round(all);
    expect(await sagasStartedBy(rt, 'paused')).toEqual([]);
    clock.set(minute(4));
    await round(all);
    expect((await sagasStartedBy(rt, 'paused')).map((s) => s.key)).toEqual([scheduleFireKey('paused', minute(4))]);

    const paused = await rt.commands.dispatch({ aggregate: 'schedule', id, tenantId: TENANT, command: { type: 'PauseSchedule', data: { at: minute(4, 10) } } });
    await indexed(pool, TENANT, 'paused', (row) => row?.version === paused.version);
    clock.set(minute(6, 1));
    await round(all);
    expect(await sagasStartedBy(rt, 'paused')).toHaveLength(1);
  });

  it('DST: a daily 02:30 Europe/Berlin schedule fires once on the spring-forward day (at 03:00 local), then at 02:30 again', async () => {
    const clock = new ManualClock('2030-03-30T12:00:00.000Z');
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'berlin', at: clock.now().toISOString(), cron: '30 2 * * *', timezone: 'Europe/Berlin' });
    const all = workers(2, clock);
    // 2030-03-31 is the last Sunday of March: 02:00 CET jumps to 03:00 CEST. Two days in 20-minute steps.
    while (clock.now() < new Date('2030-04-01T12:00:00.000Z')) {
      clock.advance(20 * 60_000);
      await round(all);
    }
    const fires = (await sagasStartedBy(rt, 'berlin')).map((s) => s.key);
    expect(fires).toEqual([scheduleFireKey('berlin', '2030-03-31T01:00:00.000Z'), scheduleFireKey('berlin', '2030-04-01T00:30:00.000Z')]);
  });

  it('leaders that overlap (a zombie leader) start one saga per fire', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'zombie', at: minute(0, 30), overlap: 'allow' });
    const ctx = { commands: rt.commands, sagas: rt.executor };
    for (const m of [1, 2]) {
      clock.set(minute(m, 2));
      // Five "leaders" at once, bypassing leadership.
      await Promise.all(Array.from({ length: 5 }, () => fireSchedule(ctx, TENANT, 'zombie', clock.now())));
    }
    const sagas = await sagasStartedBy(rt, 'zombie');
    expect(sagas.map((s) => s.key)).toEqual([1, 2].map((m) => scheduleFireKey('zombie', minute(m))));
    const decided = (await rt.store.readStream(`schedule-${scheduleAggregateId(TENANT, 'zombie')}`)).events.filter((e) => e.type === 'ScheduleFired');
    expect(decided).toHaveLength(2);
  });

  it('a leader that died between deciding a fire and starting (or recording) its saga: the next one finishes it, with one saga', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'owed', at: minute(0, 30), overlap: 'allow' });
    const id = scheduleAggregateId(TENANT, 'owed');
    // Died after the decision, before the start.
    const fired = await rt.commands.dispatch({ aggregate: 'schedule', id, tenantId: TENANT, command: { type: 'FireSchedule', data: { at: minute(1, 1) } } });
    expect(fired.events.map((e) => e.type)).toEqual(['ScheduleFired']);
    await indexed(pool, TENANT, 'owed', (row) => row?.version === fired.version);
    const [next] = workers(1, clock);
    clock.set(minute(1, 20));
    await next.tick();
    expect((await scheduleOf(rt, TENANT, 'owed')).recentRuns).toEqual([{ at: minute(1), sagaId: expect.any(String) }]);

    // Died after the start, before recording it.
    const fired2 = await rt.commands.dispatch({ aggregate: 'schedule', id, tenantId: TENANT, command: { type: 'FireSchedule', data: { at: minute(2, 1) } } });
    const { sagaId } = await rt.executor.start({ tenantId: TENANT, sagaType: 'task-workflow', input: workflowBody(), idempotencyKey: scheduleFireKey('owed', minute(2)), metadata: { actor: 'schedule:owed' } });
    await indexed(pool, TENANT, 'owed', (row) => row?.version === fired2.version);
    clock.set(minute(2, 20));
    await next.tick();
    expect((await scheduleOf(rt, TENANT, 'owed')).recentRuns[0]).toEqual({ at: minute(2), sagaId });
    expect((await sagasStartedBy(rt, 'owed')).map((s) => s.key)).toEqual([1, 2].map((m) => scheduleFireKey('owed', minute(m))));
  });

  it('a body refused at fire time (an unknown workflow definition) is recorded as a failed fire, and the schedule goes on', async () => {
    const clock = new ManualClock(minute(0, 30));
    await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'gone', at: minute(0, 30), body: { definition: { name: 'no-such-definition' } } });
    const [leader] = workers(1, clock);
    clock.set(minute(1));
    await leader.tick();
    clock.set(minute(2));
    await leader.tick();
    const runs = (await scheduleOf(rt, TENANT, 'gone')).recentRuns;
    expect(runs.map((r) => r.at)).toEqual([minute(2), minute(1)]);
    expect(runs.every((r) => r.sagaId === undefined && /no-such-definition/.test(r.error ?? ''))).toBe(true);
    expect(await sagasStartedBy(rt, 'gone')).toEqual([]);
  });
});
