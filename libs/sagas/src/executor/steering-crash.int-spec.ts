import { ChildProcess, spawn } from 'child_process';
import { resolve } from 'path';
import { isDeepStrictEqual } from 'util';
import { Pool } from 'pg';
import { AgentPrincipal, AgentTaskQueue, AgentWorkService, TaskWaiters } from '@app/agents';
import { createPool, createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { createTenant, StoredEvent, toStored, waitFor, waitForStatus } from '../testing/int-spec-helpers';
import { agentIdOf } from '../definitions/agent-provisioning.saga';
import { WorkflowTask } from '../core/dag';
import { SagaPlan } from '../core/saga.types';
import { SagaState } from '../core/saga.state';

// Crash test of saga steering: three worker processes (steering-crash-worker.ts: the harness's
// worker-process.ts with the agent task queue wired in), a random one killed with SIGKILL every
// 300–800 ms and restarted, while
// - 20 workflows wait for a signal between two echo steps; signals are sent (in-process, through
//   the executor's signal()) before the saga starts its wait (some while it is SCHEDULED), after,
//   and some twice with the same signalId (at once, or later with another payload);
// - 10 workflows with onFailure 'suspend' fail for good in their middle step and are SUSPENDED: half
//   are resumed with a corrected config, half compensated;
// - 10 workflows have an agent task (`agent:crash`) that an in-test agent takes and completes
//   through the AgentWorkService (the REST protocol's service), some completions sent twice.
// Then the killing stops, the survivors finish, and: every saga ends as it should, a wait's output
// is its signal's payload, one SignalReceived per signalId, one StepSucceeded per step, one
// SagaResumed / CompensationStarted per operator action, compensation in exact reverse completion
// order, no domain event duplicated.

jest.setTimeout(170_000);

const ROOT = resolve(__dirname, '../../../..');
const WORKER_SCRIPT = resolve(__dirname, 'steering-crash-worker.ts');
const LEASE_MS = 2000;
const TENANT = 'steer-crash-tenant';
const OPERATOR = 'operator:crash-test';
const CLIENT = 'client:crash-test';
/** Killing stops after this long at the latest (the workload normally ends it earlier). */
const MAX_KILLING_MS = 40_000;

let tdb: TestDatabase;
let pool: Pool;
let rt: ReturnType<typeof createSagaRuntime>;

interface Worker {
  name: string;
  id: string;
  child: ChildProcess;
  exited: Promise<void>;
  stderr: string[];
  ready: boolean;
}
const allWorkers: Worker[] = [];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rand = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
const alive = (w: Worker | undefined): w is Worker => !!w && w.child.exitCode === null && w.child.signalCode === null;

/** As in crash-recovery.int-spec.ts: a worker process; resolves once its executor claims work. */
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
  const worker: Worker = { name, id: '', child, stderr: [], ready: false, exited: new Promise((res) => child.once('exit', () => res())) };
  allWorkers.push(worker);
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => worker.stderr.push(chunk));
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${name} not ready: ${worker.stderr.join('')}`)), 45_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const ready = /ready (\S+)\n/.exec(out);
      if (ready && !worker.id) {
        worker.id = ready[1];
        worker.ready = true;
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
  // The test's executor runs no worker: it starts sagas, delivers signals, resumes and compensates,
  // and records the agent's completions (which queue nothing new here, but may: it has the queue).
  rt = createSagaRuntime(pool, { externalWork: new AgentTaskQueue() });
  await createTenant(rt.commands, TENANT, { cpuMillis: 100_000, memoryMb: 100_000 }, ['read', 'write']);
});

afterAll(async () => {
  for (const w of allWorkers) if (alive(w)) w.child.kill('SIGKILL');
  await Promise.all(allWorkers.map((w) => w.exited));
  await pool?.end();
  await tdb?.drop();
});

async function rows(sql: string, params: unknown[] = []) {
  return (await pool.query(sql, params)).rows;
}

// ---------------------------------------------------------------- the workload

type SignalMode = 'scheduled-before' | 'before' | 'after';
type DupMode = 'none' | 'concurrent' | 'later';
interface SignalSaga {
  kind: 'signal';
  i: number;
  mode: SignalMode;
  dup: DupMode;
  signal: string;
  signalId: string;
  payload: { token: string; i: number };
  startAt?: string;
  sagaId?: string;
  sent?: boolean;
}
interface SuspendSaga {
  kind: 'suspend';
  j: number;
  action: 'resume' | 'compensate';
  sagaId?: string;
  acted?: boolean;
}
interface AgentSaga {
  kind: 'agent';
  k: number;
  sagaId?: string;
}
type Planned = SignalSaga | SuspendSaga | AgentSaga;

const undo = (ms: number) => ({ handler: 'delay', config: { ms } });

function signalTasks(p: SignalSaga): WorkflowTask[] {
  return [
    { id: 'a', handler: 'echo', dependsOn: [], config: { i: p.i }, compensation: { handler: 'noop' } },
    { id: 'w', handler: 'wait', dependsOn: ['a'], config: { signal: p.signal } },
    { id: 'b', handler: 'echo', dependsOn: ['w'], config: { got: '{{ w.output.token }}', i: '{{ a.output.i }}' } },
  ];
}

function suspendTasks(p: SuspendSaga): WorkflowTask[] {
  return [
    { id: 'a', handler: 'echo', dependsOn: [], config: { j: p.j }, compensation: undo(80) },
    { id: 'b1', handler: 'delay', dependsOn: ['a'], config: { ms: 150 + (p.j % 3) * 100 }, compensation: undo(120) },
    { id: 'b2', handler: 'delay', dependsOn: ['a'], config: { ms: 250 }, compensation: undo(60) },
    {
      id: 'c',
      handler: 'fail',
      dependsOn: ['b1', 'b2'],
      config: { message: 'broken config' },
      retry: { maxAttempts: 1, backoffMs: 100 },
      compensation: { handler: 'noop' },
    },
    { id: 'd', handler: 'echo', dependsOn: ['c'], config: { after: '{{ c.output.succeededOnAttempt }}' }, compensation: { handler: 'noop' } },
  ];
}

function agentTasks(p: AgentSaga): WorkflowTask[] {
  return [
    { id: 'a', handler: 'echo', dependsOn: [], config: { k: p.k } },
    { id: 't', handler: 'agent:crash', dependsOn: ['a'], config: { k: '{{ a.output.k }}' } },
    { id: 'b', handler: 'echo', dependsOn: ['t'], config: { doubled: '{{ t.output.doubled }}' } },
  ];
}

function plan(): Planned[] {
  const out: Planned[] = [];
  for (let i = 0; i < 20; i++) {
    const mode: SignalMode = i % 4 === 0 ? 'scheduled-before' : i % 4 === 1 ? 'before' : 'after';
    const dup: DupMode = i % 3 === 0 ? (i % 2 === 0 ? 'concurrent' : 'later') : 'none';
    out.push({ kind: 'signal', i, mode, dup, signal: `go-${i % 3}`, signalId: `sig-${i}`, payload: { token: `t-${i}`, i } });
  }
  for (let j = 0; j < 10; j++) out.push({ kind: 'suspend', j, action: j % 2 === 0 ? 'resume' : 'compensate' });
  for (let k = 0; k < 10; k++) out.push({ kind: 'agent', k });
  // Interleave the kinds so that every phase of the run has every kind in flight.
  return out.map((p, n) => ({ p, key: (n * 17) % out.length })).sort((a, b) => a.key - b.key).map((x) => x.p);
}

// ---------------------------------------------------------------- the test

it('steering under repeated SIGKILL: signals, suspend/resume/compensate and agent tasks each take effect exactly once', async () => {
  const t0 = Date.now();
  const slots: (Worker | undefined)[] = await Promise.all(['w0', 'w1', 'w2'].map(spawnWorker));
  const tReady = Date.now();

  // The agent: provisioned by the workers (capability `crash`), then driven in this process.
  const { sagaId: provisioningId } = await rt.executor.start({
    tenantId: TENANT,
    sagaType: 'agent-provisioning',
    input: { agent: { name: 'crash-agent', type: 'llm', capabilities: ['crash'], permissions: ['read'], resources: { cpuMillis: 10, memoryMb: 10 } } },
  });
  await waitForStatus(rt.executor, provisioningId, 'COMPLETED', 30_000);
  const agent: AgentPrincipal = { tenantId: TENANT, agentId: agentIdOf(provisioningId), keyId: 'crash-test-key' };
  const work = new AgentWorkService(pool, rt.executor, rt.commands, new TaskWaiters(), { heartbeatIntervalMs: 5000 });

  const planned = plan();
  const problems: string[] = [];
  const note = (what: string) => (err: unknown) => {
    problems.push(`${what}: ${(err as Error).message}`);
  };
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  let repeatedOnEnded = 0;
  const sendSignal = (p: SignalSaga, payload: unknown) =>
    rt.executor.signal(p.sagaId!, TENANT, CLIENT, { name: p.signal, signalId: p.signalId, payload });

  /** Sends the saga's signal, and its duplicate as planned. */
  const deliver = async (p: SignalSaga) => {
    if (p.dup === 'concurrent') await Promise.all([sendSignal(p, p.payload), sendSignal(p, p.payload)]);
    else await sendSignal(p, p.payload);
    if (p.dup === 'later') {
      await sleep(rand(300, 2500));
      // Same signalId, another payload: one delivery, the first payload stays the wait's output
      // (accepted again even when the saga has ended meanwhile).
      const after = await sendSignal(p, { token: 'WRONG', i: -1 });
      if (after.status === 'COMPLETED') repeatedOnEnded++;
    }
  };

  // ---- starts, spread over ~12 s; `before` signals right after their start
  let started = 0;
  const starting = (async () => {
    for (let n = 0; n < planned.length; n += 4) {
      await Promise.all(
        planned.slice(n, n + 4).map(async (p) => {
          if (p.kind === 'signal') {
            if (p.mode === 'scheduled-before') p.startAt = new Date(Date.now() + rand(1500, 3000)).toISOString();
            const { sagaId } = await rt.executor.start({
              tenantId: TENANT,
              sagaType: 'task-workflow',
              input: { name: `signal-${p.i}`, tasks: signalTasks(p) },
              ...(p.startAt ? { startAt: p.startAt } : {}),
            });
            p.sagaId = sagaId;
            if (p.mode !== 'after') {
              p.sent = true;
              track(deliver(p).catch(note(`signal ${p.signalId} (${p.mode})`)));
            }
          } else if (p.kind === 'suspend') {
            p.sagaId = (
              await rt.executor.start({ tenantId: TENANT, sagaType: 'task-workflow', input: { name: `suspend-${p.j}`, tasks: suspendTasks(p) }, onFailure: 'suspend' })
            ).sagaId;
          } else {
            p.sagaId = (await rt.executor.start({ tenantId: TENANT, sagaType: 'task-workflow', input: { name: `agent-${p.k}`, tasks: agentTasks(p) } })).sagaId;
          }
          started++;
        }),
      );
      await sleep(1200);
    }
  })();

  // ---- the steering: `after` signals once the wait runs, operators act on SUSPENDED sagas
  let steeringDone = false;
  const steering = (async () => {
    while (!steeringDone) {
      const waiting = planned.filter(
        (p): p is SignalSaga | SuspendSaga => !!p.sagaId && ((p.kind === 'signal' && !p.sent) || (p.kind === 'suspend' && !p.acted)),
      );
      if (waiting.length === 0 && started === planned.length) break;
      const states = await rt.executor.loadMany(waiting.map((p) => p.sagaId!));
      for (const p of waiting) {
        const state = states.get(p.sagaId!)?.state as SagaState | undefined;
        if (!state) continue;
        if (p.kind === 'signal' && state.steps.w?.status === 'RUNNING') {
          p.sent = true;
          track(sleep(rand(0, 2500)).then(() => deliver(p)).catch(note(`signal ${p.signalId} (after)`)));
        } else if (p.kind === 'suspend' && state.status === 'SUSPENDED') {
          p.acted = true;
          track(
            sleep(rand(0, 2500))
              .then(() =>
                p.action === 'resume'
                  ? rt.executor.resume(p.sagaId!, TENANT, OPERATOR, 'config corrected', { failTimes: 0 })
                  : rt.executor.compensate(p.sagaId!, TENANT, OPERATOR, 'give up'),
              )
              .catch(note(`${p.action} ${p.sagaId}`)),
          );
        } else if (p.kind === 'suspend' && ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'].includes(state.status)) {
          p.acted = true;
          problems.push(`suspend saga ${p.sagaId} ended ${state.status} without an operator`);
        }
      }
      await sleep(150);
    }
  })();

  // ---- the agent: polls and completes `agent:crash` tasks (some completions sent twice)
  const agentSagas = planned.filter((p): p is AgentSaga => p.kind === 'agent');
  let agentDone = false;
  let completions = 0;
  let duplicateCompletions = 0;
  const agentLoop = (async () => {
    while (!agentDone) {
      const tasks = await work.poll(agent, { instanceId: 'crash-agent-1', maxTasks: 4, waitMs: 0, lockMs: 60_000 }).catch((err) => {
        note('agent poll')(err);
        return [];
      });
      for (const task of tasks) {
        const k = Number((task.input as { k: unknown }).k);
        track(
          (async () => {
            await sleep(rand(0, 1500));
            const req = { lockToken: task.lockToken, output: { doubled: k * 2 } };
            await work.complete(agent, task.taskId, req);
            completions++;
            if (k % 3 === 0) {
              await sleep(rand(0, 300));
              await work.complete(agent, task.taskId, req); // the same report again: accepted, nothing new
              duplicateCompletions++;
            }
          })().catch(note(`agent completion of task ${task.taskId}`)),
        );
      }
      if (tasks.length === 0) await sleep(120);
    }
  })();

  /** Sagas of this workload that ended (or, wrongly, are stuck compensating). */
  const finished = async () => {
    const ids = planned.map((p) => p.sagaId).filter(Boolean).map((id) => `saga-${id}`);
    const r = await rows(
      `select count(distinct stream_id)::int as n from events
        where stream_id = any($1::text[]) and type in ('SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed')`,
      [ids],
    );
    return r[0].n as number;
  };

  // ---- the killing: a random ready worker every 300–800 ms, restarted in the background; at
  // least one ready worker is always left alive.
  let kills = 0;
  let restarts = 0;
  const respawns: Promise<void>[] = [];
  const killStart = Date.now();
  const killing = (async () => {
    while (Date.now() - killStart < MAX_KILLING_MS) {
      await sleep(rand(300, 800));
      if (started === planned.length && (await finished()) === planned.length) break;
      const ready = slots.map((w, n) => ({ w, n })).filter((x) => alive(x.w) && x.w!.ready);
      if (ready.length < 2) continue;
      const { w: victim, n: slot } = ready[Math.floor(Math.random() * ready.length)];
      victim!.child.kill('SIGKILL');
      await victim!.exited;
      kills++;
      slots[slot] = undefined;
      respawns.push(
        spawnWorker(`w${slot}-restart-${++restarts}`).then(
          (w) => void (slots[slot] = w),
          (err) => void problems.push(`respawn of w${slot}: ${(err as Error).message}`),
        ),
      );
    }
  })();

  let tKillingStopped = 0;
  try {
    await starting;
    await killing;
    tKillingStopped = Date.now();
    await Promise.all(respawns);
    // The survivors (and the restarted) finish the rest.
    await waitFor(async () => (await finished()) === planned.length, 'every saga to end', 45_000).catch(async (err) => {
      const unfinished: string[] = [];
      for (const p of planned) {
        const s = p.sagaId ? (await rt.executor.load(p.sagaId))?.state : undefined;
        if (!s || !['COMPLETED', 'COMPENSATED'].includes(s.status)) {
          unfinished.push(`${p.kind} ${p.sagaId} ${s?.status} ${JSON.stringify(Object.fromEntries(Object.entries(s?.steps ?? {}).map(([n, st]) => [n, st.status])))}`);
        }
      }
      throw new Error(`${(err as Error).message}\n${unfinished.join('\n')}\nproblems: ${problems.join('\n')}`);
    });
  } finally {
    steeringDone = true;
    agentDone = true;
    await Promise.allSettled([starting, killing, steering, agentLoop, ...respawns]);
    // Late duplicate signals and completions still run: they must be accepted as no-ops.
    while (pending.size) await Promise.allSettled([...pending]);
  }
  const tDone = Date.now();
  for (const w of slots) if (alive(w)) w.child.kill('SIGTERM');
  await Promise.all(slots.filter(Boolean).map((w) => w!.exited));

  expect(problems).toEqual([]);

  // ---- events of the workload's sagas
  const sagaIds = planned.map((p) => p.sagaId!);
  const sagaEvents = (await rows(`select * from events where stream_id = any($1::text[]) order by stream_id, version`, [sagaIds.map((id) => `saga-${id}`)])).map(toStored);
  const byStream = new Map<string, StoredEvent[]>();
  for (const e of sagaEvents) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
  const eventsOf = (sagaId: string) => byStream.get(`saga-${sagaId}`) ?? [];
  const count = (events: StoredEvent[], type: string, pred: (e: StoredEvent) => boolean = () => true) => events.filter((e) => e.type === type && pred(e)).length;
  const states = await rt.executor.loadMany(sagaIds);
  const mismatches: string[] = [];
  const expectThat = (ok: boolean, what: string) => void (ok || mismatches.push(what));

  // ---- signal sagas: completed; the wait's output is its signal's (first) payload; one delivery
  let signalledBefore = 0;
  let signalledAfter = 0;
  for (const p of planned.filter((x): x is SignalSaga => x.kind === 'signal')) {
    const s = states.get(p.sagaId!)!.state;
    const ev = eventsOf(p.sagaId!);
    const tag = `signal saga ${p.i} (${p.mode}, dup ${p.dup}) ${p.sagaId}`;
    expectThat(s.status === 'COMPLETED', `${tag} is ${s.status}`);
    expectThat(isDeepStrictEqual(s.steps.w?.output, p.payload), `${tag}: wait output ${JSON.stringify(s.steps.w?.output)}`);
    expectThat(s.steps.b?.output !== undefined && (s.steps.b.output as { got: unknown }).got === p.payload.token, `${tag}: b output ${JSON.stringify(s.steps.b?.output)}`);
    const received = ev.filter((e) => e.type === 'SignalReceived');
    expectThat(received.length === 1 && received[0].data.signalId === p.signalId, `${tag}: SignalReceived ${JSON.stringify(received.map((e) => e.data))}`);
    const waitSucceeded = ev.filter((e) => e.type === 'StepSucceeded' && e.data.step === 'w');
    expectThat(waitSucceeded.length === 1 && waitSucceeded[0].data.signalId === p.signalId, `${tag}: wait StepSucceeded ${JSON.stringify(waitSucceeded.map((e) => e.data))}`);
    const waitStarted = ev.find((e) => e.type === 'StepStarted' && e.data.step === 'w');
    if (received[0] && waitStarted) {
      if (received[0].version < waitStarted.version) signalledBefore++;
      else signalledAfter++;
      if (p.mode === 'scheduled-before') expectThat(received[0].version < waitStarted.version, `${tag}: the signal came after the wait started`);
    }
    if (p.startAt) {
      // A signal to a SCHEDULED saga is kept; it does not start the saga early.
      const firstStep = ev.find((e) => e.type === 'StepStarted');
      expectThat(!!firstStep && Date.parse(firstStep.data.at) >= Date.parse(p.startAt), `${tag}: first step started ${firstStep?.data.at}, startAt ${p.startAt}`);
      expectThat(count(ev, 'SagaScheduled') === 1, `${tag}: ${count(ev, 'SagaScheduled')} SagaScheduled`);
    }
  }

  // ---- suspend sagas: suspended once; one SagaResumed (→ COMPLETED) or one CompensationStarted (→ COMPENSATED)
  for (const p of planned.filter((x): x is SuspendSaga => x.kind === 'suspend')) {
    const s = states.get(p.sagaId!)!.state;
    const ev = eventsOf(p.sagaId!);
    const tag = `suspend saga ${p.j} (${p.action}) ${p.sagaId}`;
    expectThat(count(ev, 'SagaSuspended') === 1, `${tag}: ${count(ev, 'SagaSuspended')} SagaSuspended`);
    expectThat(count(ev, 'StepFailed', (e) => e.data.step === 'c') === 1, `${tag}: ${count(ev, 'StepFailed', (e) => e.data.step === 'c')} StepFailed of c`);
    if (p.action === 'resume') {
      expectThat(s.status === 'COMPLETED', `${tag} is ${s.status}`);
      const resumed = ev.filter((e) => e.type === 'SagaResumed');
      expectThat(
        resumed.length === 1 && resumed[0].data.actor === OPERATOR && isDeepStrictEqual(resumed[0].data.config, { failTimes: 0 }),
        `${tag}: SagaResumed ${JSON.stringify(resumed.map((e) => e.data))}`,
      );
      expectThat(count(ev, 'CompensationStarted') === 0, `${tag}: compensation started`);
      expectThat(s.steps.c?.status === 'SUCCEEDED' && s.steps.d?.status === 'SUCCEEDED', `${tag}: c ${s.steps.c?.status} d ${s.steps.d?.status}`);
      expectThat(
        (s.steps.d?.output as { after?: unknown } | undefined)?.after === (s.steps.c?.output as { succeededOnAttempt?: unknown } | undefined)?.succeededOnAttempt,
        `${tag}: d output ${JSON.stringify(s.steps.d?.output)} c output ${JSON.stringify(s.steps.c?.output)}`,
      );
    } else {
      expectThat(s.status === 'COMPENSATED', `${tag} is ${s.status}`);
      const startedComp = ev.filter((e) => e.type === 'CompensationStarted');
      expectThat(startedComp.length === 1 && startedComp[0].data.actor === OPERATOR, `${tag}: CompensationStarted ${JSON.stringify(startedComp.map((e) => e.data))}`);
      expectThat(count(ev, 'SagaResumed') === 0, `${tag}: resumed`);
      expectThat(count(ev, 'StepStarted', (e) => e.data.step === 'd') === 0, `${tag}: d started`);
    }
  }

  // ---- agent sagas: completed with the agent's output, the task's row DONE once
  const agentTaskRows = await rows(`select saga_id, step, state, attempt from agent_tasks where saga_id = any($1::uuid[])`, [
    agentSagas.map((p) => p.sagaId),
  ]);
  for (const p of agentSagas) {
    const s = states.get(p.sagaId!)!.state;
    const ev = eventsOf(p.sagaId!);
    const tag = `agent saga ${p.k} ${p.sagaId}`;
    expectThat(s.status === 'COMPLETED', `${tag} is ${s.status}`);
    expectThat(isDeepStrictEqual(s.steps.t?.output, { doubled: p.k * 2 }), `${tag}: t output ${JSON.stringify(s.steps.t?.output)}`);
    expectThat(String((s.steps.b?.output as { doubled?: unknown } | undefined)?.doubled) === String(p.k * 2), `${tag}: b output ${JSON.stringify(s.steps.b?.output)}`);
    expectThat(count(ev, 'StepStarted', (e) => e.data.step === 't') === 1, `${tag}: ${count(ev, 'StepStarted', (e) => e.data.step === 't')} StepStarted of t`);
    const taskRows = agentTaskRows.filter((r) => r.saga_id === p.sagaId);
    expectThat(taskRows.length === 1 && taskRows[0].state === 'DONE', `${tag}: queue rows ${JSON.stringify(taskRows)}`);
  }
  expect(mismatches).toEqual([]);

  // ---- exactly one StepSucceeded per step; no domain event duplicated
  expect(await rows(`select stream_id, data->>'step' as step, count(*)::int as n from events where type = 'StepSucceeded' group by 1, 2 having count(*) > 1`)).toEqual([]);
  expect(
    await rows(`select stream_id, data->>'signalId' as signal_id, count(*)::int as n from events where type = 'SignalReceived' group by 1, 2 having count(*) > 1`),
  ).toEqual([]);
  expect(await rows(`select stream_id, count(*)::int as n from events where type = 'TaskCompleted' group by 1 having count(*) > 1`)).toEqual([]);
  expect(await rows(`select stream_id, type, count(*)::int as n from events where category <> 'saga' group by stream_id, type, data having count(*) > 1`)).toEqual([]);
  // Every saga event of a type that happens once per saga, once.
  expect(
    await rows(
      `select stream_id, type, count(*)::int as n from events
        where category = 'saga' and type in ('SagaStarted', 'SagaScheduled', 'SagaSuspended', 'SagaResumed', 'CompensationStarted', 'SagaCompleted', 'SagaCompensated')
        group by 1, 2 having count(*) > 1`,
    ),
  ).toEqual([]);
  // A step compensated at most once.
  expect(await rows(`select stream_id, data->>'step' as step, count(*)::int as n from events where type = 'StepCompensated' group by 1, 2 having count(*) > 1`)).toEqual([]);

  // ---- compensation in exact reverse completion order (steps with a compensation)
  const orderProblems: string[] = [];
  let compensated = 0;
  for (const [streamId, events] of byStream) {
    const sagaPlan = events[0].data.plan as SagaPlan;
    const compensable = new Set(sagaPlan.steps.filter((s) => s.compensation).map((s) => s.name));
    const completed = events.filter((e) => e.type === 'StepSucceeded').map((e) => e.data.step as string);
    const undone = events.filter((e) => e.type === 'StepCompensated').map((e) => e.data.step as string);
    if (events[events.length - 1].type === 'SagaCompensated') {
      compensated++;
      const expected = completed.filter((s) => compensable.has(s)).reverse();
      if (JSON.stringify(undone) !== JSON.stringify(expected)) orderProblems.push(`${streamId}: completed ${completed.join(',')} compensated ${undone.join(',')}`);
    } else if (undone.length > 0) {
      orderProblems.push(`${streamId}: compensated steps but ended with ${events[events.length - 1].type}`);
    }
  }
  expect(orderProblems).toEqual([]);
  expect(compensated).toBe(planned.filter((p) => p.kind === 'suspend' && p.action === 'compensate').length);
  expect(await rows('select saga_id from saga_work where saga_id = any($1::uuid[])', [sagaIds])).toEqual([]);

  // ---- the crashes really hit sagas in flight
  const writers = await rows(
    `select stream_id, count(distinct metadata->>'actor')::int as n from events
      where stream_id = any($1::text[]) and version > 0 and metadata->>'actor' like 'worker:%' group by stream_id`,
    [sagaIds.map((id) => `saga-${id}`)],
  );
  const movedByMany = writers.filter((r) => r.n > 1).length;
  const logLines = allWorkers.flatMap((w) => w.stderr.join('').split('\n')).filter(Boolean);
  const conflictLogs = logLines.filter((l) => l.includes('saga processing failed')).length;
  // What the workers said, by message (the text before the JSON fields).
  const logKinds = new Map<string, number>();
  for (const l of logLines) {
    const kind = l.replace(/\s*\{.*$/, '').slice(0, 80);
    logKinds.set(kind, (logKinds.get(kind) ?? 0) + 1);
  }
  console.log(
    [
      `steering crash test: ${planned.length} sagas, ${kills} SIGKILLs, ${restarts} restarts`,
      `workers ready in ${tReady - t0} ms; killing for ${tKillingStopped - killStart} ms; all ended ${tDone - killStart} ms after the first start`,
      `signals before the wait: ${signalledBefore}, after: ${signalledAfter}; repeated after the saga ended: ${repeatedOnEnded}; agent completions ${completions} (+${duplicateCompletions} repeated)`,
      `sagas written by more than one worker: ${movedByMany}; 'saga processing failed' log lines: ${conflictLogs}`,
      `worker log lines: ${JSON.stringify(Object.fromEntries(logKinds))}`,
    ].join('\n'),
  );
  expect(signalledBefore).toBeGreaterThan(0);
  expect(signalledAfter).toBeGreaterThan(0);
  expect(completions).toBe(agentSagas.length);
  expect(kills).toBeGreaterThanOrEqual(2);
  expect(movedByMany).toBeGreaterThan(0);
});
