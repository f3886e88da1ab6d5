import { ChildProcess, spawn } from 'child_process';
import { resolve } from 'path';
import { Pool } from 'pg';
import { createPool, createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { createTenant, toStored, waitFor } from '../testing/int-spec-helpers';
import { agentIdOf } from '../definitions/agent-provisioning.saga';
import { WorkflowTask } from '../core/dag';
import { SagaPlan } from '../core/saga.types';

// Crash test: 200 sagas run by three worker processes, one of which is killed with SIGKILL
// several times mid-run and restarted. Every saga must still finish, no domain effect may be
// duplicated, and every compensation must run in exact reverse completion order.

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../../../..');
const WORKER_SCRIPT = resolve(__dirname, '../testing/worker-process.ts');
const LEASE_MS = 2000;
const TENANT = 'crash-tenant';

let tdb: TestDatabase;
/** The test's own pool: patient, because the machine may be busy with the workers. */
let pool: Pool;
let rt: ReturnType<typeof createSagaRuntime>;

interface Worker {
  name: string;
  /** The executor's workerId (lease owner), from the `ready` line. */
  id: string;
  child: ChildProcess;
  exited: Promise<void>;
  stderr: string[];
}
const workers: Worker[] = [];
const allWorkers: Worker[] = [];

/** A worker process; resolves once its executor claims work. Few connections: the server is shared. */
function spawnWorker(name: string): Promise<Worker> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', WORKER_SCRIPT], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: tdb.url,
      WORKER_LEASE_MS: String(LEASE_MS),
      WORKER_CONCURRENCY: '12',
      WORKER_POOL_SIZE: '6',
      WORKER_POLL_MS: '50',
      WORKER_EXIT_WITH_PARENT: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const worker: Worker = {
    name,
    id: '',
    child,
    stderr: [],
    exited: new Promise((res) => child.once('exit', () => res())),
  };
  allWorkers.push(worker);
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => worker.stderr.push(chunk));
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${name} not ready: ${worker.stderr.join('')}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const ready = /ready (\S+)\n/.exec(out);
      if (ready && !worker.id) {
        worker.id = ready[1];
        clearTimeout(timer);
        res(worker);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited before ready (${code ?? signal}): ${worker.stderr.join('')}`));
    });
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 1 });
  pool = createPool(tdb.url, { max: 8, connectionTimeoutMillis: 60_000 });
  rt = createSagaRuntime(pool);
  await createTenant(rt.commands, TENANT, { cpuMillis: 100_000, memoryMb: 100_000 }, ['read', 'write']);
});

afterAll(async () => {
  for (const w of allWorkers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(allWorkers.map((w) => w.exited));
  await pool?.end();
  await tdb?.drop();
});

type Expected = 'COMPLETED' | 'COMPENSATED';
interface Planned {
  kind: string;
  sagaType: 'agent-provisioning' | 'task-workflow';
  input: unknown;
  expected: Expected;
}

const resources = { cpuMillis: 10, memoryMb: 10 };
function agentInput(name: string, overrides: Record<string, unknown> = {}) {
  return { agent: { name, type: 'llm', capabilities: ['chat'], permissions: ['read'], resources, ...overrides } };
}

/** The 200 sagas: 120 provisionings that succeed, 40 that compensate, 40 workflows (15 failing). */
function plan(): Planned[] {
  const out: Planned[] = [];
  for (let i = 0; i < 120; i++) {
    const initialTask =
      i % 3 === 0 ? undefined : i % 3 === 1 ? { name: 'smoke', handler: 'echo', config: { i } } : { name: 'smoke', handler: 'delay', config: { ms: 150 } };
    out.push({ kind: 'agent-ok', sagaType: 'agent-provisioning', input: agentInput(`agent-${i}`, initialTask ? { initialTask } : {}), expected: 'COMPLETED' });
  }
  for (let i = 0; i < 14; i++) {
    out.push({
      kind: 'agent-over-quota',
      sagaType: 'agent-provisioning',
      input: agentInput(`greedy-${i}`, { resources: { cpuMillis: 500_000, memoryMb: 10 } }),
      expected: 'COMPENSATED',
    });
  }
  for (let i = 0; i < 13; i++) {
    out.push({ kind: 'agent-forbidden', sagaType: 'agent-provisioning', input: agentInput(`rooted-${i}`, { permissions: ['read', 'admin'] }), expected: 'COMPENSATED' });
  }
  for (let i = 0; i < 13; i++) {
    out.push({
      kind: 'agent-failing-task',
      sagaType: 'agent-provisioning',
      input: agentInput(`smoky-${i}`, { initialTask: { name: 'smoke', handler: 'fail', config: { message: 'smoke failed' } } }),
      expected: 'COMPENSATED',
    });
  }
  const undo = { handler: 'noop' };
  for (let i = 0; i < 40; i++) {
    const failing = i % 8 < 3; // 15 of 40
    const tasks: WorkflowTask[] = [
      { id: 'root', handler: 'echo', dependsOn: [], config: { n: i }, compensation: undo },
      { id: 'slow', handler: 'delay', dependsOn: ['root'], config: { ms: 400 + (i % 4) * 100 }, compensation: undo },
      { id: 'fast', handler: 'delay', dependsOn: ['root'], config: { ms: 100 + (i % 3) * 50 }, compensation: undo },
      { id: 'mid', handler: 'echo', dependsOn: ['root'], config: { n: '{{ root.output.n }}' }, compensation: undo },
      {
        id: 'join',
        handler: failing ? 'fail' : 'transform',
        dependsOn: ['slow', 'fast', 'mid'],
        config: failing ? { message: 'join failed' } : { merge: ['{{ mid.output }}', '{{ slow.output }}'] },
        retry: { maxAttempts: 2, backoffMs: 100 },
        compensation: undo,
      },
    ];
    out.push({ kind: failing ? 'workflow-failing' : 'workflow-ok', sagaType: 'task-workflow', input: { name: `wf-${i}`, maxParallel: 3, tasks }, expected: failing ? 'COMPENSATED' : 'COMPLETED' });
  }
  // Interleave the kinds so every phase of the run has every kind in flight.
  return out.map((p, i) => ({ p, k: (i * 7919) % out.length })).sort((a, b) => a.k - b.k).map((x) => x.p);
}

/** How many of these sagas have ended (or are parked for an operator). */
async function terminalCount(sagaIds: string[]): Promise<number> {
  const { rows } = await pool.query(
    `select count(distinct stream_id)::int as n from events
      where stream_id = any($1::text[]) and type in ('SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed')`,
    [sagaIds.filter(Boolean).map((id) => `saga-${id}`)],
  );
  return rows[0].n;
}

async function rows(sql: string, params: unknown[] = []) {
  return (await pool.query(sql, params)).rows;
}

it('a saga whose worker dies in the middle of a step is resumed by another worker once the lease runs out', async () => {
  const pair = await Promise.all(['lease-a', 'lease-b'].map(spawnWorker));
  const { sagaId } = await rt.executor.start({
    tenantId: TENANT,
    sagaType: 'task-workflow',
    // Default step timeout (30 s): far longer than the lease, as in production.
    input: { name: 'lease', tasks: [{ id: 'work', handler: 'delay', dependsOn: [], config: { ms: 1500 } }, { id: 'after', handler: 'noop', dependsOn: ['work'] }] },
  });
  let owner: string | undefined;
  await waitFor(async () => {
    const state = (await rt.executor.load(sagaId))!.state;
    owner = (await rows('select lease_owner from saga_work where saga_id = $1', [sagaId]))[0]?.lease_owner;
    return state.steps.work.status === 'RUNNING' && !!owner;
  }, 'the step to run under a lease');
  const victim = pair.find((w) => w.id === owner)!;
  const survivor = pair.find((w) => w !== victim)!;
  expect(victim).toBeDefined();
  victim.child.kill('SIGKILL');
  await victim.exited;
  const killedAt = Date.now();

  // Lease (2 s) + re-running the 1.5 s step + slack: well under the step's 30 s timeout.
  const deadline = LEASE_MS + 1500 + 6000;
  let status: string | undefined;
  await waitFor(async () => (status = (await rt.executor.load(sagaId))!.state.status) === 'COMPLETED', 'completion', deadline).catch(
    async () => undefined,
  );
  const work = (await rows('select due_at, lease_owner, lease_until, claims from saga_work where saga_id = $1', [sagaId]))[0];
  const resumedBy = (await rows(`select metadata->>'actor' as actor from events where stream_id = $1 and type = 'StepSucceeded'`, [`saga-${sagaId}`]))[0]?.actor;
  survivor.child.kill('SIGTERM');
  await survivor.exited;
  expect({ status, pendingWork: work ?? null }).toEqual({ status: 'COMPLETED', pendingWork: null });
  expect(resumedBy).toBe(`worker:${survivor.id}`);
  expect(Date.now() - killedAt).toBeLessThan(deadline);
});

it('200 sagas survive a worker killed with SIGKILL again and again: all finish, nothing duplicated, compensation in reverse order', async () => {
  const t0 = Date.now();
  workers.push(...(await Promise.all(['w0', 'w1', 'w2'].map(spawnWorker))));
  const tReady = Date.now();

  const planned = plan();
  expect(planned).toHaveLength(200);
  const sagaIds: string[] = new Array(planned.length);
  // Batches of 4 on a pool of 8: a start holds its connection while it asks the pool for another
  // (see the start-under-load spec), so more concurrent starts than half the pool would stall.
  const starting = (async () => {
    for (let i = 0; i < planned.length; i += 4) {
      const batch = planned.slice(i, i + 4);
      const results = await Promise.all(batch.map((p) => rt.executor.start({ tenantId: TENANT, sagaType: p.sagaType, input: p.input })));
      results.forEach((r, j) => (sagaIds[i + j] = r.sagaId));
      // Spread the starts over ~10 s so that the kills below always land in the middle of work,
      // however fast the workers are.
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  // Kill w0 with SIGKILL every ~0.6 s (plus its restart) while work remains (4 times), restarting it each time.
  let kills = 0;
  let stopKilling = false;
  const killing = (async () => {
    for (let k = 0; k < 4 && !stopKilling; k++) {
      await new Promise((r) => setTimeout(r, 600));
      if ((await terminalCount(sagaIds)) >= planned.length) break;
      const victim = workers[0];
      victim.child.kill('SIGKILL');
      await victim.exited;
      kills++;
      workers[0] = await spawnWorker(`w0-restart-${k + 1}`);
    }
  })();

  let tStarted = 0;
  try {
    await starting;
    tStarted = Date.now();
    await waitFor(async () => (await terminalCount(sagaIds)) === planned.length, 'every saga to be terminal', 120_000);
  } finally {
    stopKilling = true;
    await Promise.allSettled([starting, killing]);
  }
  const tDone = Date.now();

  // Graceful stop of the survivors.
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));

  // ---- every saga reached the terminal state its kind calls for
  const outcomes = new Map<string, number>();
  const mismatches: string[] = [];
  for (let i = 0; i < planned.length; i++) {
    const loaded = await rt.executor.load(sagaIds[i]);
    const status = loaded?.state.status;
    outcomes.set(`${planned[i].kind}:${status}`, (outcomes.get(`${planned[i].kind}:${status}`) ?? 0) + 1);
    if (status !== planned[i].expected) mismatches.push(`${planned[i].kind} ${sagaIds[i]} is ${status}`);
  }
  expect(mismatches).toEqual([]);

  // ---- no domain event duplicated
  const agentSagas = sagaIds.filter((_, i) => planned[i].sagaType === 'agent-provisioning');
  const registered = await rows(
    `select stream_id, count(*)::int as n from events where type = 'AgentRegistered' group by stream_id`,
  );
  expect(registered.filter((r) => r.n !== 1)).toEqual([]);
  expect(new Set(registered.map((r) => r.stream_id))).toEqual(new Set(agentSagas.map((id) => `agent-${agentIdOf(id)}`)));
  expect(
    await rows(`select data->>'reservationId' as id, count(*)::int as n from events where type = 'ResourcesReserved' group by 1 having count(*) > 1`),
  ).toEqual([]);
  expect(await rows(`select stream_id, count(*)::int as n from events where type = 'TaskCompleted' group by 1 having count(*) > 1`)).toEqual([]);
  expect(
    await rows(
      `select stream_id, data->>'step' as step, data->>'attempt' as attempt, count(*)::int as n from events
        where type = 'StepSucceeded' group by 1, 2, 3 having count(*) > 1`,
    ),
  ).toEqual([]);
  // Stronger: no domain stream holds the same event (type and data) twice, and a step succeeds once.
  expect(
    await rows(
      `select stream_id, type, count(*)::int as n from events where category <> 'saga'
        group by stream_id, type, data having count(*) > 1`,
    ),
  ).toEqual([]);
  expect(
    await rows(`select stream_id, data->>'step' as step from events where type = 'StepSucceeded' group by 1, 2 having count(*) > 1`),
  ).toEqual([]);

  // ---- compensation order is the exact reverse of the completion order (steps with a compensation)
  const sagaStreams = sagaIds.map((id) => `saga-${id}`);
  const sagaEventRows = (await rows(`select * from events where stream_id = any($1::text[]) order by stream_id, version`, [sagaStreams])).map(toStored);
  const byStream = new Map<string, ReturnType<typeof toStored>[]>();
  for (const e of sagaEventRows) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
  const orderProblems: string[] = [];
  let compensatedCount = 0;
  for (const [streamId, events] of byStream) {
    const sagaPlan = events[0].data.plan as SagaPlan;
    const compensable = new Set(sagaPlan.steps.filter((s) => s.compensation).map((s) => s.name));
    const completed = events.filter((e) => e.type === 'StepSucceeded').map((e) => e.data.step as string);
    const compensated = events.filter((e) => e.type === 'StepCompensated').map((e) => e.data.step as string);
    if (events[events.length - 1].type === 'SagaCompensated') {
      compensatedCount++;
      const expected = completed.filter((s) => compensable.has(s)).reverse();
      if (JSON.stringify(compensated) !== JSON.stringify(expected)) {
        orderProblems.push(`${streamId}: completed ${completed.join(',')} compensated ${compensated.join(',')}`);
      }
    } else if (compensated.length > 0) {
      orderProblems.push(`${streamId}: compensated steps but ended with ${events[events.length - 1].type}`);
    }
  }
  expect(orderProblems).toEqual([]);
  expect(compensatedCount).toBe(planned.filter((p) => p.expected === 'COMPENSATED').length);

  // ---- the domain agrees with the sagas
  const reservations = (await rt.commands.load('quota', TENANT)).state.reservations as Record<string, unknown>;
  const completedAgents = sagaIds.filter((_, i) => planned[i].kind === 'agent-ok');
  expect(new Set(Object.keys(reservations))).toEqual(new Set(completedAgents));
  const agentStatus = await rows(
    `select stream_id, bool_or(type = 'AgentActivated') as active, bool_or(type = 'AgentDecommissioned') as decommissioned
       from events where category = 'agent' group by stream_id`,
  );
  const activeAgents = new Set(agentStatus.filter((r) => r.active && !r.decommissioned).map((r) => r.stream_id));
  expect(activeAgents).toEqual(new Set(completedAgents.map((id) => `agent-${agentIdOf(id)}`)));
  expect(agentStatus.filter((r) => !r.active && !r.decommissioned)).toEqual([]);
  expect(await rows('select saga_id from saga_work where saga_id = any($1::uuid[])', [sagaIds])).toEqual([]);

  // ---- the crashes really hit sagas in flight: some sagas were moved on by more than one worker
  const writers = await rows(
    `select stream_id, count(distinct metadata->>'actor')::int as n from events
      where stream_id = any($1::text[]) and version > 0 and metadata->>'actor' like 'worker:%' group by stream_id`,
    [sagaStreams],
  );
  const resumedElsewhere = writers.filter((r) => r.n > 1).length;
  const conflictLogs = allWorkers.flatMap((w) => w.stderr.join('').split('\n')).filter((l) => l.includes('saga processing failed')).length;

  console.log(
    [
      `crash test: ${planned.length} sagas, ${kills} SIGKILLs of a busy worker`,
      `workers ready in ${tReady - t0} ms; all started ${tStarted - tReady} ms later; all terminal ${tDone - tReady} ms after the first start`,
      `outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`,
      `sagas written by more than one worker: ${resumedElsewhere}; 'saga processing failed' log lines: ${conflictLogs}`,
    ].join('\n'),
  );
  expect(kills).toBeGreaterThanOrEqual(3);
  expect(resumedElsewhere).toBeGreaterThan(0);
});
