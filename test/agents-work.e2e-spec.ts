import { randomUUID } from 'crypto';
import { delay, waitFor } from '@app/database';
import {
  countPerStep,
  ExampleAgentProcess,
  HttpAnswer,
  ProvisionedAgent,
  provisionWorkingAgent,
  queueOf,
  RawInstance,
  sagaEvents,
  sagaView,
  Started,
  startWorkflow,
  stepOf,
  waitForSaga,
} from './support/agents';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';

jest.setTimeout(60_000);

const PROBLEM = /application\/problem\+json/;
/** How often instances must heartbeat here: silence is UNHEALTHY after 1.5 s, OFFLINE after 3 s. */
const HEARTBEAT_MS = 500;

/**
 * The agent work protocol as agents and users see it (API.md "Agents: the work protocol", "Sagas"):
 * `agent:<capability>` tasks of task-workflows done by agent instances over HTTP — real example-agent
 * processes where the work is shared, raw protocol calls where a test steers one instance by hand.
 * Each test has a tenant (so a queue) and an agent of its own.
 */
describe('agents: the work protocol', () => {
  let ctx: E2eContext;
  let baseUrl: string;
  const started = new Started();

  beforeAll(async () => {
    ({ ctx } = await startE2eAppWithTenants({ agents: { heartbeatIntervalMs: HEARTBEAT_MS, runtime: 'external', apiUrl: 'http://127.0.0.1:0' } }));
    baseUrl = await ctx.listen();
  });
  afterEach(() => started.stopAll());
  afterAll(async () => {
    await started.stopAll();
    await ctx?.close();
  });

  /** A tenant of its own with an ACTIVE agent that has the `translate` capability, and a key of it. */
  const setup = async (): Promise<{ t: TenantKeys; agent: ProvisionedAgent }> => {
    const t = await ctx.tenant();
    return { t, agent: await provisionWorkingAgent(ctx, t, ['translate']) };
  };
  /** A hand-driven instance of `agent` that heartbeats in the background until the test ends. */
  const instance = (agent: ProvisionedAgent, instanceId: string) => started.add(new RawInstance(baseUrl, agent.key, instanceId)).start();
  const expectRefusal = (res: HttpAnswer, status: number, code?: string) => {
    expect({ status: res.status, code: res.body?.code }).toEqual({ status, code: code ?? res.body?.code });
    expect(res.contentType).toMatch(PROBLEM);
    expect(res.body.status).toBe(status);
  };
  const cancel = (t: TenantKeys, sagaId: string) => ctx.http().post(`/v1/sagas/${sagaId}/cancel`).set(bearer(t.operator)).send({ reason: 'test: the user changed their mind' });

  it('three example-agent processes share 30 translate tasks: every task succeeds once, each instance does some', async () => {
    const { t, agent } = await setup();
    const ids = ['translator-a', 'translator-b', 'translator-c'];
    const procs = ids.map((id) => started.add(ExampleAgentProcess.start(baseUrl, agent.key, id)));
    const logs = () => procs.map((p) => `--- ${p.instanceId} (alive: ${p.alive})\n${p.output.slice(-2000)}`).join('\n');
    // All three are connected before the work comes, so that no one of them takes it all.
    await waitFor(
      async () => {
        const res = await ctx.http().get(`/v1/agents/${agent.agentId}`).set(bearer(t.operator));
        const healthy = (res.body.instances ?? []).filter((i: { instanceId: string; status: string }) => ids.includes(i.instanceId) && i.status === 'HEALTHY');
        return healthy.length === 3;
      },
      { timeoutMs: 20_000, what: () => `three HEALTHY instances\n${logs()}` },
    );

    const n = 30;
    const tasks = Array.from({ length: n }, (_, i) => ({
      id: `page-${String(i + 1).padStart(2, '0')}`,
      handler: 'agent:translate',
      config: { text: `hello wide world ${i + 1}`, to: 'fr', sleepMs: 150 },
    }));
    const sagaId = await startWorkflow(ctx, t, tasks, 64);
    let view: any;
    try {
      view = await waitForSaga(ctx, t.client, sagaId, 'COMPLETED', 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    }

    const handled: Record<string, number> = {};
    for (const [i, task] of tasks.entries()) {
      const step = stepOf(view, task.id);
      expect(step).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(step.output).toMatchObject({ capability: 'translate', result: { text: `${i + 1} world wide hello`, to: 'fr' } });
      expect(ids).toContain(step.output.handledBy);
      handled[step.output.handledBy] = (handled[step.output.handledBy] ?? 0) + 1;
    }
    expect(Object.values(handled).reduce((a, b) => a + b, 0)).toBe(n);
    for (const id of ids) expect({ id, handledAny: (handled[id] ?? 0) >= 1 }).toEqual({ id, handledAny: true });

    const succeeded = countPerStep(await sagaEvents(ctx, t, sagaId), 'StepSucceeded');
    expect(succeeded).toEqual(Object.fromEntries(tasks.map((task) => [task.id, 1])));
    // The instances are still up (no crash on the way).
    expect(procs.map((p) => p.alive)).toEqual([true, true, true]);
  });

  it('hands out the highest priority first: CRITICAL before HIGH before NORMAL before LOW', async () => {
    const { t, agent } = await setup();
    // Listed lowest first, so that "oldest first" alone would give the wrong order.
    const priorities = ['LOW', 'NORMAL', 'HIGH', 'CRITICAL', 'LOW', 'NORMAL', 'HIGH', 'CRITICAL'] as const;
    const tasks = priorities.map((priority, i) => ({ id: `${priority.toLowerCase()}-${i}`, handler: 'agent:translate', priority, config: { n: i } }));
    const sagaId = await startWorkflow(ctx, t, tasks, 8);
    // No instance runs yet: wait until every task is queued.
    await waitFor(async () => (await queueOf(ctx, t, 'translate'))?.pending === tasks.length, { what: `${tasks.length} pending translate tasks` });

    const inst = await instance(agent, 'prio-1');
    const polled = [];
    for (let i = 0; i < tasks.length; i++) {
      const got = await inst.tasks({ maxTasks: 1, waitMs: 0 });
      expect(got).toHaveLength(1);
      polled.push(got[0]);
    }
    expect(polled.map((p) => p.priority)).toEqual(['CRITICAL', 'CRITICAL', 'HIGH', 'HIGH', 'NORMAL', 'NORMAL', 'LOW', 'LOW']);
    // Each polled task is the step of that priority (its input tells which).
    expect(polled.map((p) => priorities[p.input.n])).toEqual(polled.map((p) => p.priority));
    expect(await inst.tasks({ maxTasks: 1, waitMs: 0 })).toEqual([]);

    for (const p of polled) expect((await inst.complete(p.taskId, p.lockToken, { n: p.input.n })).status).toBe(200);
    await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
  });

  it('holds a delayed task back (queue.delayMs) and hands it out once the delay has passed', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'delay-1');
    const startedAt = Date.now();
    const sagaId = await startWorkflow(ctx, t, [{ id: 'later', handler: 'agent:translate', config: { text: 'b a' }, queue: { delayMs: 3000 } }]);

    const queued = await waitFor(async () => {
      const q = await queueOf(ctx, t, 'translate');
      return q && q.delayed === 1 ? q : undefined;
    }, { what: 'a delayed translate task in GET /v1/queues' });
    expect(queued).toMatchObject({ pending: 0, locked: 0, delayed: 1 });
    expect(await inst.tasks({ waitMs: 0 })).toEqual([]);
    expect(Date.now() - startedAt).toBeLessThan(3000); // the empty answer came while the delay ran

    const got = await inst.tasks({ waitMs: 5000 });
    const gotAfter = Date.now() - startedAt;
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ sagaId, capability: 'translate', attempt: 1, input: { text: 'b a' } });
    expect(gotAfter).toBeGreaterThanOrEqual(2950);
    expect(gotAfter).toBeLessThan(4500);

    expect((await inst.complete(got[0].taskId, got[0].lockToken, { text: 'a b' })).status).toBe(200);
    const view = await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
    expect(stepOf(view, 'later').output).toEqual({ text: 'a b' });
  });

  it('fails a task no instance takes within queue.ttlMs (EXPIRED, not retried) and compensates the saga', async () => {
    const t = await ctx.tenant();
    const sagaId = await startWorkflow(ctx, t, [
      { id: 'reserve', handler: 'noop', compensation: { handler: 'noop' } },
      { id: 'translate', handler: 'agent:translate', dependsOn: ['reserve'], queue: { ttlMs: 1500 }, retry: { maxAttempts: 3, backoffMs: 10 } },
    ]);
    const view = await waitForSaga(ctx, t.client, sagaId, 'COMPENSATED', 15_000);
    const step = stepOf(view, 'translate');
    expect(step).toMatchObject({ status: 'FAILED', errorCode: 'EXPIRED', attempts: 1 });
    expect(Date.parse(step.finishedAt) - Date.parse(step.startedAt)).toBeGreaterThanOrEqual(1400);
    expect(stepOf(view, 'reserve').status).toBe('COMPENSATED');
    // It left the queue.
    const q = await queueOf(ctx, t, 'translate');
    expect({ pending: q?.pending ?? 0, delayed: q?.delayed ?? 0, locked: q?.locked ?? 0 }).toEqual({ pending: 0, delayed: 0, locked: 0 });
  });

  it('fences completions: after A’s lock expired B gets the task with a new token, and A’s late complete is LOCK_LOST', async () => {
    const { t, agent } = await setup();
    const a = await instance(agent, 'fence-a');
    const b = await instance(agent, 'fence-b');
    const sagaId = await startWorkflow(ctx, t, [{ id: 'only', handler: 'agent:translate', config: { text: 'x y' } }]);

    const [taskA] = await a.tasks({ waitMs: 5000, lockMs: 1000 });
    expect(taskA).toMatchObject({ sagaId, attempt: 1 });
    expect(await b.tasks({ waitMs: 0 })).toEqual([]); // A holds it

    // A does nothing; once its lock ran out the task goes back to the queue and B's long poll gets it.
    const [taskB] = await b.tasks({ waitMs: 5000, lockMs: 30_000 });
    expect(taskB).toBeDefined();
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(taskA.lockedUntil));
    expect(taskB.taskId).toBe(taskA.taskId);
    expect(taskB.lockToken).not.toBe(taskA.lockToken);

    expect((await b.complete(taskB.taskId, taskB.lockToken, { by: 'b' })).status).toBe(200);
    expectRefusal(await a.complete(taskA.taskId, taskA.lockToken, { by: 'a' }), 409, 'LOCK_LOST');
    expectRefusal(await a.fail(taskA.taskId, taskA.lockToken, { message: 'late' }), 409, 'LOCK_LOST');

    const view = await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
    expect(stepOf(view, 'only').output).toEqual({ by: 'b' });
    expect(countPerStep(await sagaEvents(ctx, t, sagaId), 'StepSucceeded')).toEqual({ only: 1 });
  });

  it('extends a held lock, and refuses a stale token (409 LOCK_LOST) and an unknown task (404)', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'extend-1');
    const sagaId = await startWorkflow(ctx, t, [{ id: 'long', handler: 'agent:translate', config: { text: 'x' } }]);
    const [first] = await inst.tasks({ waitMs: 5000, lockMs: 1000 });
    expect(first).toBeDefined();
    // The first lock runs out and the task is polled again: the first token is stale from then on.
    const [task] = await inst.tasks({ waitMs: 5000, lockMs: 5000 });
    expect(task).toMatchObject({ taskId: first.taskId });
    expect(task.lockToken).not.toBe(first.lockToken);

    const extended = await inst.extend(task.taskId, task.lockToken, 60_000);
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.lockedUntil)).toBeGreaterThan(Date.parse(task.lockedUntil) + 50_000);
    expectRefusal(await inst.extend(first.taskId, first.lockToken, 60_000), 409, 'LOCK_LOST');
    expectRefusal(await inst.progress(first.taskId, first.lockToken, 10), 409, 'LOCK_LOST');
    expectRefusal(await inst.extend(randomUUID(), task.lockToken, 60_000), 404);
    expectRefusal(await inst.complete(randomUUID(), task.lockToken), 404);

    // The extended lock holds past the original one (5 s): the task is still this instance's.
    await delay(500);
    expect(await inst.tasks({ waitMs: 0 })).toEqual([]);
    expect((await inst.complete(task.taskId, task.lockToken, { ok: true })).status).toBe(200);
    await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
  });

  it('shows reported progress under the step in GET /v1/sagas/{id}', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'progress-1');
    const sagaId = await startWorkflow(ctx, t, [{ id: 'long', handler: 'agent:translate', config: { text: 'x' } }]);
    const [task] = await inst.tasks({ waitMs: 5000, lockMs: 30_000 });
    expect(task).toBeDefined();

    expect((await inst.progress(task.taskId, task.lockToken, 40, 'page 2 of 5')).status).toBe(200);
    const view = await sagaView(ctx, t.client, sagaId);
    expect(stepOf(view, 'long')).toMatchObject({ status: 'RUNNING', progress: { percent: 40, message: 'page 2 of 5' } });

    expect((await inst.complete(task.taskId, task.lockToken, { ok: true })).status).toBe(200);
    await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
  });

  it('cancelling a saga revokes the lock: complete is 409 TASK_CANCELLED, the step FAILED (CANCELLED), the saga COMPENSATED', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'cancel-1');
    const sagaId = await startWorkflow(ctx, t, [
      { id: 'reserve', handler: 'noop', compensation: { handler: 'noop' } },
      { id: 'long', handler: 'agent:translate', dependsOn: ['reserve'], config: { text: 'x' } },
    ]);
    const [task] = await inst.tasks({ waitMs: 5000, lockMs: 60_000 });
    expect(task).toBeDefined();

    const cancelledAt = Date.now();
    expect((await cancel(t, sagaId)).status).toBe(202);
    expectRefusal(await inst.complete(task.taskId, task.lockToken, { ok: true }), 409, 'TASK_CANCELLED');
    expectRefusal(await inst.extend(task.taskId, task.lockToken, 60_000), 409, 'TASK_CANCELLED');

    const view = await waitForSaga(ctx, t.client, sagaId, 'COMPENSATED', 5000);
    expect(Date.now() - cancelledAt).toBeLessThan(5000);
    expect(stepOf(view, 'long')).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
    expect(stepOf(view, 'reserve').status).toBe('COMPENSATED');
    expect(countPerStep(await sagaEvents(ctx, t, sagaId), 'StepSucceeded')).toEqual({ reserve: 1 });
  });

  it('refuses every complete sent right after the cancel was accepted (10 sagas): TASK_CANCELLED, never a SUCCEEDED step', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'cancel-race-1');
    const sagaIds = await Promise.all(
      Array.from({ length: 10 }, () => startWorkflow(ctx, t, [{ id: 'long', handler: 'agent:translate', config: { text: 'x' } }])),
    );
    const tasks = await waitFor(
      async () => {
        const queued = (await queueOf(ctx, t, 'translate'))?.pending === sagaIds.length;
        return queued ? inst.tasks({ maxTasks: sagaIds.length, waitMs: 0, lockMs: 60_000 }) : undefined;
      },
      { what: `${sagaIds.length} queued translate tasks` },
    );
    expect(tasks).toHaveLength(sagaIds.length);

    const answers: Record<string, { status: number; code?: string }> = {};
    for (const task of tasks) {
      expect((await cancel(t, task.sagaId)).status).toBe(202);
      // The agent reports just after the operator's cancel was accepted.
      const res = await inst.complete(task.taskId, task.lockToken, { ok: true });
      answers[task.sagaId] = { status: res.status, code: res.body?.code };
    }
    const steps: Record<string, unknown> = {};
    for (const sagaId of sagaIds) {
      const view = await waitForSaga(ctx, t.client, sagaId, 'COMPENSATED', 5000);
      const step = stepOf(view, 'long');
      steps[sagaId] = { status: step.status, errorCode: step.errorCode };
    }
    expect({ answers, steps }).toEqual({
      answers: Object.fromEntries(sagaIds.map((id) => [id, { status: 409, code: 'TASK_CANCELLED' }])),
      steps: Object.fromEntries(sagaIds.map((id) => [id, { status: 'FAILED', errorCode: 'CANCELLED' }])),
    });
  });

  it('long polls: an empty answer after waitMs, and an answer as soon as a task is queued', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'long-poll-1');

    let t0 = Date.now();
    const empty = await inst.poll({ waitMs: 1000 });
    const emptyTook = Date.now() - t0;
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ tasks: [] });
    expect(emptyTook).toBeGreaterThanOrEqual(950);
    expect(emptyTook).toBeLessThan(2500);

    t0 = Date.now();
    const polling = inst.poll({ waitMs: 10_000 });
    await delay(500);
    const startedAt = Date.now();
    const sagaId = await startWorkflow(ctx, t, [{ id: 'soon', handler: 'agent:translate', config: { text: 'x' } }]);
    const res = await polling;
    const answeredAfterStart = Date.now() - startedAt;
    expect(res.status).toBe(200);
    expect(res.body.tasks).toHaveLength(1);
    expect(res.body.tasks[0]).toMatchObject({ sagaId, capability: 'translate' });
    expect(answeredAfterStart).toBeLessThan(1500);

    const [task] = res.body.tasks;
    expect((await inst.complete(task.taskId, task.lockToken, { ok: true })).status).toBe(200);
    await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
  });

  it('fail with retryable: false fails the step for good and the saga compensates', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'fail-1');
    const sagaId = await startWorkflow(ctx, t, [
      { id: 'reserve', handler: 'noop', compensation: { handler: 'noop' } },
      { id: 'translate', handler: 'agent:translate', dependsOn: ['reserve'], retry: { maxAttempts: 3, backoffMs: 10 }, config: { text: 'x' } },
    ]);
    const [task] = await inst.tasks({ waitMs: 5000 });
    expect(task).toMatchObject({ sagaId, attempt: 1 });

    expect((await inst.fail(task.taskId, task.lockToken, { message: 'unsupported language', code: 'BAD_LANGUAGE' }, false)).status).toBe(200);
    const view = await waitForSaga(ctx, t.client, sagaId, 'COMPENSATED', 10_000);
    const step = stepOf(view, 'translate');
    expect(step).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(step.error).toContain('unsupported language');
    expect(stepOf(view, 'reserve').status).toBe('COMPENSATED');
    expect(await inst.tasks({ waitMs: 0 })).toEqual([]); // not queued again
  });

  it('fail with retryable: true gives the task a second attempt under its retry policy', async () => {
    const { t, agent } = await setup();
    const inst = await instance(agent, 'retry-1');
    const sagaId = await startWorkflow(ctx, t, [
      { id: 'translate', handler: 'agent:translate', retry: { maxAttempts: 2, backoffMs: 10 }, config: { text: 'x' } },
    ]);
    const [first] = await inst.tasks({ waitMs: 5000 });
    expect(first).toMatchObject({ sagaId, attempt: 1 });
    expect((await inst.fail(first.taskId, first.lockToken, { message: 'service busy' }, true)).status).toBe(200);

    const [second] = await inst.tasks({ waitMs: 5000 });
    expect(second).toMatchObject({ taskId: first.taskId, sagaId, attempt: 2 });
    expect(second.lockToken).not.toBe(first.lockToken);
    expect((await inst.complete(second.taskId, second.lockToken, { ok: true })).status).toBe(200);
    expectRefusal(await inst.complete(first.taskId, first.lockToken, { ok: 'late' }), 409, 'LOCK_LOST');

    const view = await waitForSaga(ctx, t.client, sagaId, 'COMPLETED');
    expect(stepOf(view, 'translate')).toMatchObject({ status: 'SUCCEEDED', attempts: 2, output: { ok: true } });
  });
});
