import { ChildProcess, spawn } from 'child_process';
import { resolve } from 'path';
import { Pool } from 'pg';
import { createPool, createTestDatabase, delay, TestDatabase, waitFor } from '@app/database';
import { scheduleAggregateId, scheduleFireKey } from '@app/domain';
import { Scheduler } from './scheduler';
import { acceleratedClock } from './testing/accelerated-clock';
import { createSchedule, createScheduleRuntime, sagasStartedBy, ScheduleRuntime } from './testing/schedule-test-kit';

// Crash test: three scheduler processes live through ~14 minutes of `* * * * *` (an accelerated
// clock: 1 s is 30 s) while one of them is killed with SIGKILL again and again and restarted, and
// once all three are down for three minutes. No fire may be decided twice or start two sagas; the
// outage is caught up with one fire.

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../../..');
const SCRIPT = resolve(__dirname, 'testing/scheduler-process.ts');
const TENANT = 'crash-tenant';
const FACTOR = 30;
const MINUTE_REAL_MS = 60_000 / FACTOR;
const CLOCK_START = Date.UTC(2030, 0, 7, 10, 0, 30);

let tdb: TestDatabase;
let pool: Pool;
let rt: ScheduleRuntime;
let realStart: number;

interface Child {
  child: ChildProcess;
  exited: Promise<void>;
  /** The (clock) time it became the leader. */
  leaderAt?: number;
}
const children: Child[] = [];

function spawnScheduler(): Promise<Child> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: tdb.url, CLOCK_START: String(CLOCK_START), CLOCK_REAL_START: String(realStart), CLOCK_FACTOR: String(FACTOR) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const c: Child = { child, exited: new Promise((res) => child.once('exit', () => res())) };
  children.push(c);
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  return new Promise((res, rej) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const leader = /leader (\S+)\n/.exec(out);
      if (leader) c.leaderAt = Date.parse(leader[1]);
      if (/ready\n/.test(out)) res(c);
    });
    child.once('exit', (code, signal) => rej(new Error(`scheduler exited before ready (${code ?? signal}): ${stderr.join('')}`)));
  });
}

const alive = () => children.filter((c) => c.child.exitCode === null && c.child.signalCode === null);

async function kill(c: Child): Promise<void> {
  c.child.kill('SIGKILL');
  await c.exited;
}

const virtualNow = () => CLOCK_START + (Date.now() - realStart) * FACTOR;

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 1 });
  pool = createPool(tdb.url, { max: 6, connectionTimeoutMillis: 60_000 });
  rt = createScheduleRuntime(pool);
  await rt.projections.start();
  await rt.executor.startWorker();
});

afterAll(async () => {
  await Promise.all(alive().map(kill));
  await rt?.executor.stopWorker();
  await rt?.projections.stop();
  await pool?.end();
  await tdb?.drop();
});

it('repeated SIGKILL of scheduler processes: no fire decided twice, no saga started twice, one catch-up after an outage', async () => {
  realStart = Date.now();
  const createdAt = new Date(CLOCK_START).toISOString();
  await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'allow', at: createdAt, overlap: 'allow' });
  await createSchedule(rt, pool, { tenantId: TENANT, scheduleId: 'skip', at: createdAt });
  const workers = await Promise.all([0, 1, 2].map(() => spawnScheduler()));

  // Kill a scheduler (the leader when known) every 0.7-1.7 s, restarting it, for ~6 virtual minutes
  // and at least four times (a busy machine spawns slowly).
  const until = realStart + 6.5 * MINUTE_REAL_MS;
  let kills = 0;
  while (Date.now() < until || kills < 4) {
    await delay(700 + Math.random() * 1000);
    const victims = alive();
    const victim = victims.find((c) => c.leaderAt !== undefined) ?? victims[Math.floor(Math.random() * victims.length)];
    await kill(victim);
    kills++;
    workers.splice(workers.indexOf(victim), 1, await spawnScheduler());
  }

  // All down for three virtual minutes, then back.
  await Promise.all(alive().map(kill));
  const downFrom = virtualNow();
  await delay(3 * MINUTE_REAL_MS);
  workers.splice(0, workers.length, ...(await Promise.all([0, 1, 2].map(() => spawnScheduler()))));
  const backAt = await waitFor(() => workers.find((c) => c.leaderAt !== undefined)?.leaderAt, { what: 'a leader after the outage' });
  await delay(3 * MINUTE_REAL_MS);
  await Promise.all(alive().map(kill));

  // A leader killed between deciding a fire and starting its saga left it owed: a last round
  // finishes it (and may decide the fire due by then, once).
  const last = new Scheduler(pool, rt.commands, rt.executor, { clock: acceleratedClock(CLOCK_START, realStart, FACTOR) });
  await waitFor(async () => {
    await last.tick();
    const { rows } = await pool.query('select count(*)::int as n from schedules where pending_fire_at is not null');
    return rows[0].n === 0;
  }, { what: 'no owed fire left' });
  await last.stop();

  for (const scheduleId of ['allow', 'skip']) {
    const stream = await rt.store.readStream(`schedule-${scheduleAggregateId(TENANT, scheduleId)}`, { limit: 10_000 });
    const decided = stream.events.filter((e) => e.type === 'ScheduleFired' || e.type === 'ScheduleFireSkipped').map((e) => (e.data as { fireTime: string }).fireTime);
    const fired = stream.events.filter((e) => e.type === 'ScheduleFired').map((e) => (e.data as { fireTime: string }).fireTime);
    const recorded = stream.events.filter((e) => e.type === 'ScheduledSagaStarted').map((e) => (e.data as { fireTime: string }).fireTime);
    // Each fire decided once, in order, and minute by minute apart from the outage.
    expect(new Set(decided).size).toBe(decided.length);
    expect([...decided].sort()).toEqual(decided);
    // Each fired time started exactly one saga, with its key; no saga without a fire.
    const sagas = await sagasStartedBy(rt, scheduleId);
    expect(sagas.map((s) => s.key)).toEqual(fired.map((t) => scheduleFireKey(scheduleId, t)));
    expect(recorded).toEqual(fired);
    // The outage (until a leader was back): none of its minutes fired but the latest one when the
    // leader first looked (a later one if that look failed), once.
    const catchUp = new Date(Math.floor(backAt / 60_000) * 60_000).toISOString();
    const after = decided.filter((t) => Date.parse(t) > downFrom);
    expect(after.filter((t) => t < catchUp)).toEqual([]);
    expect(after[0] >= catchUp).toBe(true);
    // The schedulers did work through the kills: most minutes fired.
    expect(decided.length).toBeGreaterThanOrEqual(6);
  }
});
