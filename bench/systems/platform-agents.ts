import { HttpError, JsonClient } from '../harness/http';
import { runConcurrent } from '../harness/concurrency';
import { startPlatform } from './platform-process';
import { failureSignal, jobPayload, OnComplete, OpenTaskQueue, refOf } from './task-queue';

/** Long-poll wait of each agent poll (the protocol allows 0..30 000). */
export const POLL_WAIT_MS = 5000;
/** The workflow limit on maxParallel (libs/sagas MAX_PARALLEL_LIMIT): tasks of one saga all run at once up to it. */
const MAX_PARALLEL = 64;
const TENANT = 'bench-w10';
const CAPABILITY = 'bench';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the platform's own agent client (libs/agent-client: refusals.ts, backoff.ts) retries: the API
 * not reached, or answering 429 / 502 / 503 / 504. The benchmark's instances do the same, with the
 * same backoff (250 ms doubling to 15 s, equal jitter), and count every retry (`retries` in the
 * JSON line): a retry is reported, never hidden.
 */
const TRANSIENT = new Set([0, 429, 502, 503, 504]);
const isTransient = (err: unknown) => err instanceof HttpError && TRANSIENT.has(err.status);
const backoffMs = (attempt: number) => {
  const ceiling = Math.min(15_000, 250 * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (Math.random() * ceiling) / 2;
};
/** Retry counts of the run, by status (0 = network error), and locks lost (409 on complete). */
export interface RetryCounts {
  byStatus: Map<number, number>;
  lockLost: number;
}

interface PolledTask {
  taskId: string;
  lockToken: string;
  sagaId: string;
  input: unknown;
}

/** Polls `fn` every `everyMs` until it returns a value (not undefined), or throws after `timeoutMs` with `what`. */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`W10 ours: ${what} (waited ${timeoutMs / 1000} s)`);
    await sleep(everyMs);
  }
}

/**
 * One agent instance, as an agent process would run it: its own keep-alive connections; heartbeats
 * first and then every `heartbeatIntervalMs` the platform asks for; keeps one long poll in flight
 * whenever it has free slots (`maxTasks` = free slots, at most `perInstance`) and completes every
 * task it gets at once (a no-op), so at most `perInstance` tasks are in its hands at any time.
 */
class AgentInstance {
  private inFlight = 0;
  private stopped = false;
  private wake?: () => void;
  private heartbeat?: NodeJS.Timeout;
  private loopDone?: Promise<void>;
  polls = 0;
  emptyPolls = 0;

  constructor(
    private readonly client: JsonClient,
    readonly instanceId: string,
    private readonly perInstance: number,
    private readonly onComplete: OnComplete,
    private readonly fail: (err: Error) => void,
    private readonly retries: RetryCounts,
  ) {}

  /** `fn` until it succeeds, a non-transient failure (thrown), or the instance stops (undefined). */
  private async retrying<T>(fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.stopped) return undefined;
        if (!isTransient(err)) throw err;
        const status = (err as HttpError).status;
        this.retries.byStatus.set(status, (this.retries.byStatus.get(status) ?? 0) + 1);
        await sleep(backoffMs(attempt));
        if (this.stopped) return undefined;
      }
    }
  }

  private beat(): Promise<{ heartbeatIntervalMs?: number }> {
    return this.client.call('POST', '/v1/agent/heartbeat', { instanceId: this.instanceId, status: 'HEALTHY', load: { inFlight: this.inFlight } });
  }

  async start(): Promise<void> {
    const first = await this.beat();
    const every = Math.max(1000, Number(first?.heartbeatIntervalMs) || 10_000);
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: Error) => {
        if (this.stopped) return;
        // A transient failure is counted; the next beat comes at the next interval.
        if (isTransient(err)) this.retries.byStatus.set((err as HttpError).status, (this.retries.byStatus.get((err as HttpError).status) ?? 0) + 1);
        else this.fail(new Error(`W10 ours: heartbeat of ${this.instanceId} failed: ${err.message}`));
      });
    }, every);
    this.heartbeat.unref();
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const free = this.perInstance - this.inFlight;
      if (free <= 0) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      let answer: { tasks?: PolledTask[] } | undefined;
      try {
        this.polls++;
        answer = await this.retrying(() =>
          this.client.call<{ tasks?: PolledTask[] }>('POST', '/v1/agent/tasks/poll', { instanceId: this.instanceId, maxTasks: free, waitMs: POLL_WAIT_MS }),
        );
      } catch (err) {
        if (!this.stopped) this.fail(err as Error);
        return;
      }
      if (this.stopped) return;
      const tasks = answer?.tasks;
      if (!Array.isArray(tasks)) {
        this.fail(new Error(`W10 ours: poll answered without a tasks array: ${JSON.stringify(answer).slice(0, 300)}`));
        return;
      }
      if (tasks.length > free) {
        this.fail(new Error(`W10 ours: poll with maxTasks ${free} answered ${tasks.length} tasks`));
        return;
      }
      if (!tasks.length) this.emptyPolls++;
      for (const task of tasks) this.complete(task);
    }
  }

  private complete(task: PolledTask): void {
    this.inFlight++;
    this.retrying(() => this.client.call('POST', `/v1/agent/tasks/${encodeURIComponent(task.taskId)}/complete`, { lockToken: task.lockToken, output: {} }))
      .then(
        (answer) => {
          if (answer !== undefined) this.onComplete(refOf(task.input), performance.now());
        },
        (err: Error) => {
          if (this.stopped) return;
          // The lock expired and the task went to another instance, which completes it: counted.
          if (err instanceof HttpError && err.status === 409 && /LOCK_LOST/.test(JSON.stringify(err.body))) this.retries.lockLost++;
          else this.fail(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.wake?.();
    this.client.close(); // aborts the pending long poll
    await this.loopDone?.catch(() => undefined);
  }
}

/**
 * W10 subject: the platform's REST work protocol, over real HTTP on 127.0.0.1.
 *
 * The platform runs as its own process (platform-process.ts: API + worker, `npm start` with
 * DATABASE_URL) on a fresh database. Setup (untimed): a tenant and an operator key (admin key), an
 * agent provisioned by `POST /v1/sagas/agent-provisioning` with capabilities ["bench"] (waited until
 * its saga is COMPLETED and the agent listed), an agent key from `POST /v1/agents/{id}/keys`, then
 * `instances` agent instances (each its own connections) that heartbeat, long-poll and complete.
 *
 * Work: one task-workflow saga per batch — `batchSize` independent tasks (no dependsOn) with handler
 * `agent:bench` and `maxParallel` = batchSize, so every task of a saga is queued as soon as the
 * worker starts the saga. A task's config is `{ p, i }` (phase, index), which the poll answers as
 * its `input`.
 *
 * Enqueue time: the task's `StepStarted` event (the agent task row is written in the same
 * transaction), its `recordedAt` read from GET /v1/sagas/{id}/events after the run (untimed) and
 * converted to this process's clock (same machine, same wall clock). The time from the saga start
 * call's 202 is reported beside it (`callP50Ms`, `callP99Ms`).
 */
export const openPlatformAgents: OpenTaskQueue = async (ctx, shape, onComplete) => {
  if (shape.batchSize > MAX_PARALLEL) throw new Error(`W10 ours: ${shape.batchSize} tasks per saga is above maxParallel's limit ${MAX_PARALLEL}`);
  ctx.phase('creating database');
  const url = await ctx.createDatabase();
  ctx.phase('starting the platform (API + worker process)');
  const platform = await startPlatform(url, { poolSize: ctx.poolSize, log: (line) => ctx.log(`platform: ${line}`) });
  ctx.onCleanup(() => platform.stop());
  const { failed, fail } = failureSignal();
  const instances: AgentInstance[] = [];
  const clients: JsonClient[] = [];
  const close = async () => {
    await Promise.all(instances.map((i) => i.stop()));
    for (const c of clients) c.close();
    await platform.stop();
  };
  let pollsBefore = { polls: 0, empty: 0 };
  const retries: RetryCounts = { byStatus: new Map(), lockLost: 0 };
  let retriesBefore = { retries: 0, lockLost: 0, starts: 0 };
  let startRetries = 0;
  const sagas = new Map<string, { sagaId: string; first: number; count: number }[]>();
  let operator: JsonClient;
  try {
    ctx.phase('setup (tenant, agent provisioning, agent key, heartbeats)');
    const admin = new JsonClient(platform.baseUrl, platform.adminKey, 4);
    clients.push(admin);
    await admin.call('POST', '/v1/tenants', {
      id: TENANT,
      name: 'W10 benchmark',
      quota: { cpuMillis: 1_000_000, memoryMb: 1_000_000 },
      allowedPermissions: [CAPABILITY],
    });
    const { key: operatorKey } = await admin.call<{ key: string }>('POST', '/v1/api-keys', { tenantId: TENANT, role: 'operator', name: 'w10 operator' });
    operator = admin.withKey(operatorKey, shape.starters + 4);
    clients.push(operator);

    const provisioning = await operator.call<{ sagaId: string }>('POST', '/v1/sagas/agent-provisioning', {
      agent: {
        name: 'w10-agent',
        type: 'bench',
        capabilities: [CAPABILITY],
        permissions: [CAPABILITY],
        resources: { cpuMillis: 100, memoryMb: 64 },
        scaling: { strategy: 'FIXED', min: shape.instances, max: shape.instances },
      },
    });
    await until('the agent-provisioning saga did not complete', 60_000, async () => {
      const saga = await operator.call<{ status: string; steps?: { name: string; status: string; error?: string }[] }>('GET', `/v1/sagas/${provisioning.sagaId}`);
      if (saga.status === 'COMPLETED') return true;
      if (['COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED', 'SUSPENDED'].includes(saga.status)) {
        const failedStep = saga.steps?.find((s) => s.error);
        throw new Error(`W10 ours: agent provisioning ended ${saga.status}${failedStep ? ` (${failedStep.name}: ${failedStep.error})` : ''}`);
      }
      return undefined;
    });
    const agentId = await until('the provisioned agent is not listed ACTIVE in GET /v1/agents', 30_000, async () => {
      const page = await operator.call<{ items: { agentId: string; sagaId?: string; status: string }[] }>('GET', `/v1/agents?capability=${CAPABILITY}`);
      return page.items.find((a) => a.sagaId === provisioning.sagaId && a.status === 'ACTIVE')?.agentId;
    });
    const { key: agentKey } = await operator.call<{ key: string }>('POST', `/v1/agents/${agentId}/keys`, { name: 'w10 instances' });

    for (let n = 0; n < shape.instances; n++) {
      const client = admin.withKey(agentKey, shape.perInstance + 2);
      clients.push(client);
      instances.push(new AgentInstance(client, `w10-instance-${n + 1}`, shape.perInstance, onComplete, fail, retries));
    }
    await Promise.all(instances.map((i) => i.start()));
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }

  /** Every saga of `phase`, `concurrency` at a time. */
  const eachSaga = async (phase: string, fn: (s: { sagaId: string; first: number; count: number }) => Promise<void>) => {
    const list = sagas.get(phase) ?? [];
    await runConcurrent({ workers: shape.starters, total: list.length, op: (k) => fn(list[k]) });
  };

  return {
    settings: {
      instances: shape.instances,
      concurrencyPerInstance: shape.perInstance,
      batch: shape.batchSize,
      tasksPerSaga: shape.batchSize,
      pollWaitMs: POLL_WAIT_MS,
      pool: ctx.poolSize,
      platformPid: platform.pid,
    },
    failed,
    async enqueue(phase, batch, first, count) {
      const body = {
        name: `w10-${phase}-${batch}`,
        maxParallel: count,
        tasks: Array.from({ length: count }, (_, k) => ({ id: `t${k}`, handler: `agent:${CAPABILITY}`, dependsOn: [], config: jobPayload(phase, first + k) })),
      };
      // A start refused as transient (503) is sent again with the same Idempotency-Key, so a start
      // that did commit is not doubled; counted in `startRetries`.
      const headers = { 'idempotency-key': `w10-${phase}-${batch}` };
      let sagaId: string;
      for (let attempt = 0; ; attempt++) {
        try {
          ({ sagaId } = await operator.call<{ sagaId: string }>('POST', '/v1/sagas/task-workflow', body, { headers }));
          break;
        } catch (err) {
          if (!isTransient(err)) throw err;
          startRetries++;
          await sleep(backoffMs(attempt));
        }
      }
      const list = sagas.get(phase) ?? sagas.set(phase, []).get(phase)!;
      list.push({ sagaId, first, count });
    },
    async queuedAt(phase, total) {
      const at = new Float64Array(total).fill(NaN);
      await eachSaga(phase, async ({ sagaId, first, count }) => {
        for (let from = 0; ; ) {
          const page = await operator.call<{ events: { version: number; type: string; data: { step?: string }; recordedAt: string }[] }>(
            'GET',
            `/v1/sagas/${sagaId}/events?fromVersion=${from}&limit=1000`,
          );
          for (const e of page.events) {
            if (e.type !== 'StepStarted') continue;
            const k = Number(String(e.data.step).replace(/^t/, ''));
            if (!Number.isInteger(k) || k < 0 || k >= count) continue;
            const t = Date.parse(e.recordedAt) - performance.timeOrigin;
            if (Number.isNaN(at[first + k]) || t < at[first + k]) at[first + k] = t; // the first start, if retried
          }
          if (page.events.length < 1000) break;
          from = page.events[page.events.length - 1].version + 1;
        }
      });
      const missing = at.findIndex((t) => Number.isNaN(t));
      if (missing >= 0) throw new Error(`W10 ours: no StepStarted event for task ${missing} of phase ${phase}`);
      return at;
    },
    async verify(phase) {
      let notCompleted = 0;
      await eachSaga(phase, async ({ sagaId }) => {
        const status = await until(`saga ${sagaId} not terminal after its tasks completed`, 60_000, async () => {
          const saga = await operator.call<{ status: string }>('GET', `/v1/sagas/${sagaId}`);
          return ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED', 'SUSPENDED'].includes(saga.status) ? saga.status : undefined;
        });
        if (status !== 'COMPLETED') notCompleted++;
      });
      if (notCompleted) throw new Error(`W10 ours: ${notCompleted} sagas of phase ${phase} not COMPLETED`);
      // Polls since the previous verify (the previous phase).
      const polls = instances.reduce((a, i) => a + i.polls, 0);
      const empty = instances.reduce((a, i) => a + i.emptyPolls, 0);
      const retried = [...retries.byStatus.values()].reduce((a, b) => a + b, 0);
      const counts = {
        sagas: sagas.get(phase)?.length ?? 0,
        polls: polls - pollsBefore.polls,
        emptyPolls: empty - pollsBefore.empty,
        // Agent calls retried after a 429/502/503/504 or a network error, completes refused with
        // LOCK_LOST, saga starts retried; retriesByStatus counts warm-up and run together.
        retries: retried - retriesBefore.retries,
        lockLost: retries.lockLost - retriesBefore.lockLost,
        startRetries: startRetries - retriesBefore.starts,
        retriesByStatus: [...retries.byStatus].map(([status, n]) => `${status || 'network'}:${n}`).join(' ') || 'none',
      };
      pollsBefore = { polls, empty };
      retriesBefore = { retries: retried, lockLost: retries.lockLost, starts: startRetries };
      return counts;
    },
    close,
  };
};
