import { createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { createTenant, maxRunningAtOnce, sagaEvents, stepsOf, streamEvents, waitForStatus } from '../testing/int-spec-helpers';
import { WorkflowTask } from '../core/dag';
import { workflowTaskIdOf } from './task-workflow.saga';
import { TaskHandlerRegistry } from '../tasks/task-handler';
import { registerBuiltinHandlers } from '../tasks/builtin-handlers';

// TaskWorkflowSaga end to end on a real PostgreSQL: DAG scheduling, templating, parallelism,
// priorities, retries, timeouts and compensation in reverse completion order.

jest.setTimeout(60_000);

let tdb: TestDatabase;
let rt: ReturnType<typeof createSagaRuntime>;
const tenantId = 'wf-tenant';
const executorLog: string[] = [];

/** Runs of the `together` handler by saga and task: it returns once `config.n` tasks of its saga run. */
const togetherRuns = new Map<string, number>();
const togetherWaiting = new Map<string, (() => void)[]>();
const handlers = registerBuiltinHandlers(new TaskHandlerRegistry()).register('together', async (ctx) => {
  const key = `${ctx.sagaId}:${ctx.taskName}`;
  togetherRuns.set(key, (togetherRuns.get(key) ?? 0) + 1);
  const waiting = togetherWaiting.get(ctx.sagaId) ?? [];
  togetherWaiting.set(ctx.sagaId, waiting);
  await new Promise<void>((resolve) => {
    waiting.push(resolve);
    if (waiting.length >= Number(ctx.config.n)) waiting.forEach((r) => r());
  });
  return { task: ctx.taskName };
});

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 8 });
  rt = createSagaRuntime(tdb.pool, { pollIntervalMs: 50, handlers, log: (message, fields) => executorLog.push(`${message} ${JSON.stringify(fields)}`) });
  await createTenant(rt.commands, tenantId, { cpuMillis: 1000, memoryMb: 1000 }, ['read']);
  await rt.executor.startWorker();
});
afterAll(async () => {
  await rt?.executor.stopWorker();
  await tdb?.drop();
});

async function run(tasks: WorkflowTask[], maxParallel?: number) {
  const { sagaId } = await rt.executor.start({
    tenantId,
    sagaType: 'task-workflow',
    input: { name: 'wf', tasks, ...(maxParallel !== undefined ? { maxParallel } : {}) },
  });
  const state = await waitForStatus(rt.executor, sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
  return { sagaId, state, events: await sagaEvents(tdb.pool, sagaId) };
}

const NO_RETRY = { maxAttempts: 1, backoffMs: 0 };

describe('TaskWorkflowSaga', () => {
  it('fans out and in, resolving {{ task.output.path }} as typed values and inside strings', async () => {
    const { sagaId, state, events } = await run([
      { id: 'a', handler: 'echo', dependsOn: [], config: { x: 42, name: 'alpha', tags: ['t1', 't2'], nested: { ok: true } } },
      { id: 'b', handler: 'echo', dependsOn: ['a'], config: { n: '{{ a.output.x }}', tags: '{{ a.output.tags }}', flag: '{{a.output.nested.ok}}' } },
      { id: 'c', handler: 'echo', dependsOn: ['a'], config: { s: 'x={{ a.output.x }} name={{ a.output.name }} second={{ a.output.tags[1] }}' } },
      { id: 'd', handler: 'transform', dependsOn: ['b', 'c'], config: { merge: ['{{ b.output }}', '{{ c.output }}'] } },
      { id: 'e', handler: 'echo', dependsOn: ['d'], config: { fromRoot: '{{ a.output.name }}-{{ d.output.n }}', n2: '{{ d.output.n }}' } },
    ]);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.b.output).toEqual({ n: 42, tags: ['t1', 't2'], flag: true });
    expect(state.steps.c.output).toEqual({ s: 'x=42 name=alpha second=t2' });
    expect(state.steps.d.output).toEqual({ n: 42, tags: ['t1', 't2'], flag: true, s: 'x=42 name=alpha second=t2' });
    // Through two levels (a is an ancestor of e, not a direct dependency).
    expect(state.steps.e.output).toEqual({ fromRoot: 'alpha-42', n2: 42 });

    const succeeded = stepsOf(events, 'StepSucceeded');
    expect(succeeded[0]).toBe('a');
    expect(new Set(succeeded.slice(1, 3))).toEqual(new Set(['b', 'c']));
    expect(succeeded.slice(3)).toEqual(['d', 'e']);
    // b and c ran in parallel (default maxParallel 4): both started before either finished.
    expect(maxRunningAtOnce(events)).toBe(2);

    // The task aggregate keeps the rendered config and the output.
    const d = await streamEvents(tdb.pool, `task-${workflowTaskIdOf(sagaId, 'd')}`);
    expect(d.map((e) => e.type)).toEqual(['TaskScheduled', 'TaskStarted', 'TaskCompleted']);
    expect(d[0].data.config).toEqual({ merge: [{ n: 42, tags: ['t1', 't2'], flag: true }, { s: 'x=42 name=alpha second=t2' }] });
    expect(d[2].data.output).toEqual(state.steps.d.output);
  });

  it('a failing task compensates the completed tasks in exact reverse completion order', async () => {
    const undo = { handler: 'noop' };
    const { sagaId, state, events } = await run(
      [
        // Plan order slow, fast, medium: completion order is fast, medium, slow.
        { id: 'slow', handler: 'delay', dependsOn: [], config: { ms: 700 }, compensation: undo },
        { id: 'fast', handler: 'delay', dependsOn: [], config: { ms: 50 }, compensation: undo },
        { id: 'medium', handler: 'delay', dependsOn: [], config: { ms: 350 }, compensation: undo },
        // Completed but nothing to undo: never compensated.
        { id: 'plain', handler: 'noop', dependsOn: ['fast'] },
        { id: 'boom', handler: 'fail', dependsOn: ['slow', 'medium', 'plain'], config: { message: 'boom' }, retry: NO_RETRY, compensation: undo },
      ],
      4,
    );
    expect(state.status).toBe('COMPENSATED');
    expect(state.failedStep).toBe('boom');

    const completed = stepsOf(events, 'StepSucceeded');
    // The delays make the completion order differ from the plan order (slow, fast, medium); on a
    // busy machine medium and slow may swap, so compare with the order actually recorded.
    const compensable = completed.filter((s) => s !== 'plain');
    expect(compensable[0]).toBe('fast');
    expect(compensable).not.toEqual(['slow', 'fast', 'medium']);
    expect(completed).toContain('plain');
    const compensated = stepsOf(events, 'StepCompensated');
    expect(compensated).toEqual([...compensable].reverse());
    expect(stepsOf(events, 'StepCompensationStarted')).toEqual(compensated);
    expect(state.steps.plain.status).toBe('SUCCEEDED');
    expect(state.steps.boom.status).toBe('FAILED');

    // Each compensated task's aggregate records it.
    for (const id of ['slow', 'medium', 'fast']) {
      const types = (await streamEvents(tdb.pool, `task-${workflowTaskIdOf(sagaId, id)}`)).map((e) => e.type);
      expect(types).toEqual(['TaskScheduled', 'TaskStarted', 'TaskCompleted', 'TaskCompensated']);
    }
  });

  it('never runs more than maxParallel tasks at once', async () => {
    const tasks: WorkflowTask[] = Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, handler: 'delay', dependsOn: [], config: { ms: 150 } }));
    tasks.push({ id: 'join', handler: 'noop', dependsOn: tasks.map((t) => t.id) });
    const { state, events } = await run(tasks, 3);
    expect(state.status).toBe('COMPLETED');
    expect(maxRunningAtOnce(events)).toBe(3);
    expect(stepsOf(events, 'StepSucceeded')).toHaveLength(9);
  });

  it('records parallel tasks that finish at the same moment once each, without stalling the saga', async () => {
    // Six tasks complete together: their outcomes race for the same saga version. Each must be
    // recorded by deciding again on the newer state, not by re-running the task or giving up.
    executorLog.length = 0;
    const tasks: WorkflowTask[] = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, handler: 'together', dependsOn: [], config: { n: 6 } }));
    const startedAt = Date.now();
    const { sagaId, state, events } = await run(tasks, 6);
    const elapsed = Date.now() - startedAt;
    expect(state.status).toBe('COMPLETED');
    expect(stepsOf(events, 'StepSucceeded').sort()).toEqual(tasks.map((t) => t.id));
    // One assertion, so a failure shows every symptom at once.
    expect({
      executorErrors: executorLog.filter((l) => l.includes(sagaId)),
      handlerRunsPerTask: tasks.map((t) => togetherRuns.get(`${sagaId}:${t.id}`)),
      finishedWithinThreeSeconds: elapsed < 3_000 ? true : `took ${elapsed} ms`,
    }).toEqual({ executorErrors: [], handlerRunsPerTask: tasks.map(() => 1), finishedWithinThreeSeconds: true });
  });

  it('with maxParallel 1, higher priority tasks start first among ready ones', async () => {
    const { state, events } = await run(
      [
        { id: 'low1', handler: 'noop', dependsOn: [], priority: 'LOW' },
        { id: 'normal', handler: 'noop', dependsOn: [] },
        { id: 'high', handler: 'noop', dependsOn: [], priority: 'HIGH' },
        { id: 'low2', handler: 'noop', dependsOn: [], priority: 'LOW' },
        { id: 'critical', handler: 'noop', dependsOn: [], priority: 'CRITICAL' },
        // Become ready together once `critical` is done: CRITICAL before LOW again.
        { id: 'after-low', handler: 'noop', dependsOn: ['critical'], priority: 'LOW' },
        { id: 'after-critical', handler: 'noop', dependsOn: ['critical'], priority: 'CRITICAL' },
      ],
      1,
    );
    expect(state.status).toBe('COMPLETED');
    expect(maxRunningAtOnce(events)).toBe(1);
    expect(stepsOf(events, 'StepStarted')).toEqual(['critical', 'after-critical', 'high', 'normal', 'low1', 'low2', 'after-low']);
  });

  it('retries a failing task with backoff and succeeds on attempt 3', async () => {
    const { sagaId, state, events } = await run([
      { id: 'flaky', handler: 'fail', dependsOn: [], config: { failTimes: 2, message: 'not yet' }, retry: { maxAttempts: 3, backoffMs: 50 } },
      { id: 'next', handler: 'echo', dependsOn: ['flaky'], config: { attempt: '{{ flaky.output.succeededOnAttempt }}' } },
    ]);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.flaky).toMatchObject({ status: 'SUCCEEDED', attempts: 3, output: { succeededOnAttempt: 3 } });
    expect(state.steps.next.output).toEqual({ attempt: 3 });

    const flaky = events.filter((e) => e.data?.step === 'flaky');
    expect(flaky.map((e) => [e.type, e.data.attempt ?? e.data.nextAttempt])).toEqual([
      ['StepStarted', 1],
      ['StepFailed', 1],
      ['StepRetryScheduled', 2],
      ['StepStarted', 2],
      ['StepFailed', 2],
      ['StepRetryScheduled', 3],
      ['StepStarted', 3],
      ['StepSucceeded', 3],
    ]);
    expect(flaky.filter((e) => e.type === 'StepFailed').every((e) => e.data.final === false && e.data.error === 'not yet')).toBe(true);
    // Exponential backoff from 50 ms (×2), with jitter in [50 %, 100 %].
    const delays = events.filter((e) => e.type === 'StepRetryScheduled').map((e) => e.data.delayMs);
    expect(delays[0]).toBeGreaterThanOrEqual(25);
    expect(delays[0]).toBeLessThanOrEqual(50);
    expect(delays[1]).toBeGreaterThanOrEqual(50);
    expect(delays[1]).toBeLessThanOrEqual(100);
    // The second attempt did not start before its retry was due.
    const scheduled = events.find((e) => e.type === 'StepRetryScheduled')!;
    const secondStart = flaky.find((e) => e.type === 'StepStarted' && e.data.attempt === 2)!;
    expect(Date.parse(secondStart.data.at)).toBeGreaterThanOrEqual(Date.parse(scheduled.data.dueAt));

    const task = (await streamEvents(tdb.pool, `task-${workflowTaskIdOf(sagaId, 'flaky')}`)).map((e) => e.type);
    expect(task).toEqual(['TaskScheduled', 'TaskStarted', 'TaskFailed', 'TaskStarted', 'TaskFailed', 'TaskStarted', 'TaskCompleted']);
  });

  it('fails an attempt that outlives its timeoutMs with a timeout error', async () => {
    const startedAt = Date.now();
    const { state, events } = await run([
      { id: 'first', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
      { id: 'sleepy', handler: 'delay', dependsOn: ['first'], config: { ms: 10_000 }, timeoutMs: 300, retry: { maxAttempts: 2, backoffMs: 10 } },
    ]);
    expect(Date.now() - startedAt).toBeLessThan(8_000);
    expect(state.status).toBe('COMPENSATED');
    const failures = events.filter((e) => e.type === 'StepFailed');
    expect(failures.map((e) => [e.data.step, e.data.attempt, e.data.final])).toEqual([
      ['sleepy', 1, false],
      ['sleepy', 2, true],
    ]);
    for (const f of failures) expect(f.data.error).toMatch(/timeout after 300 ms/);
    // Each attempt was given up about timeoutMs after it started.
    for (const attempt of [1, 2]) {
      const started = events.find((e) => e.type === 'StepStarted' && e.data.step === 'sleepy' && e.data.attempt === attempt)!;
      const failed = failures.find((e) => e.data.attempt === attempt)!;
      const elapsed = Date.parse(failed.data.at) - Date.parse(started.data.at);
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(2_000);
    }
    expect(stepsOf(events, 'StepCompensated')).toEqual(['first']);
  });
});
