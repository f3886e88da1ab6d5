import { createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { sagaEvents, streamEvents, waitFor, waitForStatus } from '../testing/int-spec-helpers';
import { workflowTaskIdOf } from '../definitions/task-workflow.saga';
import { TaskHandlerRegistry } from '../tasks/task-handler';
import { registerBuiltinHandlers } from '../tasks/builtin-handlers';
import { WorkflowTask } from '../core/dag';

// The executor's group commit on a real PostgreSQL: many sagas' transitions (with the domain
// events of their steps) commit together, and one member's trouble (a domain refusal, a lost
// version race with an operator) stays that member's.

jest.setTimeout(90_000);

let tdb: TestDatabase;
const executorLog: string[] = [];
let rt: ReturnType<typeof createSagaRuntime>;
const tenantId = 'gc-tenant';

/** `gate` tasks wait until the test opens the gate; `gated` counts those waiting. */
let openGate: () => void = () => undefined;
let gate = new Promise<void>((r) => (openGate = r));
let gated = 0;
const resetGate = () => {
  gate = new Promise<void>((r) => (openGate = r));
  gated = 0;
};
const handlers = registerBuiltinHandlers(new TaskHandlerRegistry()).register('gate', async (ctx) => {
  gated++;
  await gate;
  return { passed: ctx.taskName };
});

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 8 });
  rt = createSagaRuntime(tdb.pool, { pollIntervalMs: 50, concurrency: 100, handlers, log: (message) => executorLog.push(message) });
  await rt.executor.startWorker();
});
afterAll(async () => {
  await rt?.executor.stopWorker();
  await tdb?.drop();
});

const NO_RETRY = { maxAttempts: 1, backoffMs: 0 };

async function startAll(n: number, tasks: WorkflowTask[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { sagaId } = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: { name: `gc-${i}`, tasks } });
    ids.push(sagaId);
  }
  return ids;
}

describe('group commit', () => {
  afterEach(() => {
    openGate();
    resetGate();
  });

  it('commits the outcomes of many sagas together, each with its task events and the next step started', async () => {
    const sagas = await startAll(60, [
      { id: 'wait', handler: 'gate', dependsOn: [], retry: NO_RETRY },
      { id: 'then', handler: 'echo', dependsOn: ['wait'], config: { after: '{{ wait.output.passed }}' }, retry: NO_RETRY },
    ]);
    await waitFor(() => gated === 60, 'all 60 gates to be waiting');
    openGate();
    for (const id of sagas) await waitForStatus(rt.executor, id, 'COMPLETED');
    // 60 sagas × 2 transitions after the gate (with 60 × 2 task streams written): a global
    // position is (transaction id << 16) + sequence, so the distinct transaction ids are the
    // commits that wrote them. Alone, each transition would be a commit of its own (120).
    const { rows } = await tdb.pool.query(
      `select count(distinct global_position >> 16)::int as commits, count(*)::int as events
         from events where stream_id = any($1::text[]) and type in ('StepSucceeded', 'SagaCompleted')`,
      [sagas.map((id) => `saga-${id}`)],
    );
    expect(rows[0].events).toBe(180);
    expect(rows[0].commits).toBeLessThan(30);

    for (const id of sagas) {
      const events = await sagaEvents(tdb.pool, id);
      expect(events.map((e) => `${e.type}${e.data.step ? `:${e.data.step}` : ''}`)).toEqual([
        'SagaStarted',
        'StepStarted:wait',
        'StepSucceeded:wait',
        'StepStarted:then',
        'StepSucceeded:then',
        'SagaCompleted',
      ]);
      // An outcome and the start of the next step are one commit: adjacent global positions.
      expect(events[3].globalPosition).toBe(events[2].globalPosition + 1);
      expect(events[4].data.output).toEqual({ after: 'wait' });
      for (const task of ['wait', 'then']) {
        const taskEvents = await streamEvents(tdb.pool, `task-${workflowTaskIdOf(id, task)}`);
        expect(taskEvents.map((e) => e.type)).toEqual(['TaskScheduled', 'TaskStarted', 'TaskCompleted']);
        expect(taskEvents.map((e) => e.version)).toEqual([0, 1, 2]);
      }
    }
  });

  it('a member whose domain command is refused fails alone; the rest of its group completes', async () => {
    const sagas = await startAll(20, [
      { id: 'first', handler: 'echo', dependsOn: [], retry: NO_RETRY, compensation: { handler: 'noop' } },
      { id: 'wait', handler: 'gate', dependsOn: ['first'], retry: NO_RETRY },
    ]);
    await waitFor(() => gated === 20, 'all 20 gates to be waiting');
    // Another saga already owns the task id of one member's `wait` step: ScheduleTask refuses.
    const poisoned = sagas[7];
    const poisonTask = workflowTaskIdOf(poisoned, 'wait');
    await rt.store.appendToStream(
      `task-${poisonTask}`,
      [
        {
          type: 'TaskScheduled',
          data: { taskId: poisonTask, sagaId: '00000000-0000-4000-8000-000000000000', tenantId, name: 'wait', handler: 'noop', config: {} },
        },
      ],
      { expectedVersion: 'no_stream', tenantId },
    );
    openGate();
    const failed = await waitForStatus(rt.executor, poisoned, 'COMPENSATED');
    expect(failed.steps.wait.status).toBe('FAILED');
    expect(failed.steps.wait.error).toMatch(/TASK_EXISTS/);
    expect(failed.steps.first.status).toBe('COMPENSATED');
    expect((await streamEvents(tdb.pool, `task-${poisonTask}`)).map((e) => e.type)).toEqual(['TaskScheduled']);
    for (const id of sagas.filter((s) => s !== poisoned)) {
      const state = await waitForStatus(rt.executor, id, 'COMPLETED');
      expect(state.steps.wait.output).toEqual({ passed: 'wait' });
    }
  });

  it('a member that lost its version to an operator decides again; the others of its group are not disturbed', async () => {
    const sagas = await startAll(24, [
      { id: 'first', handler: 'echo', dependsOn: [], retry: NO_RETRY, compensation: { handler: 'noop' } },
      { id: 'wait', handler: 'gate', dependsOn: ['first'], retry: NO_RETRY, compensation: { handler: 'noop' } },
      { id: 'last', handler: 'noop', dependsOn: ['wait'], retry: NO_RETRY },
    ]);
    await waitFor(() => gated === 24, 'all 24 gates to be waiting');
    // Cancelled while `wait` runs: the worker still holds these sagas at their old version.
    const cancelled = sagas.filter((_, i) => i % 4 === 0);
    for (const id of cancelled) await rt.executor.cancel(id, tenantId, 'ops@example.com', 'changed plans');
    openGate();
    for (const id of cancelled) {
      const state = await waitForStatus(rt.executor, id, 'COMPENSATED');
      const events = await sagaEvents(tdb.pool, id);
      // Either `wait` finished before the cancel interrupted it (its outcome is recorded after the
      // cancel and undone first), or the cancel interrupted it (FAILED, CANCELLED: nothing to undo).
      const types = events.map((e) => `${e.type}${e.data.step ? `:${e.data.step}` : ''}`);
      const compensated = events.filter((e) => e.type === 'StepCompensated').map((e) => e.data.step);
      if (types.includes('StepSucceeded:wait')) {
        expect(types.indexOf('SagaCancelRequested')).toBeLessThan(types.indexOf('StepSucceeded:wait'));
        expect(compensated).toEqual(['wait', 'first']);
      } else {
        expect(events.find((e) => e.type === 'StepFailed' && e.data.step === 'wait')?.data).toMatchObject({ code: 'CANCELLED', final: true });
        expect(compensated).toEqual(['first']);
      }
      expect(types).not.toContain('StepStarted:last');
      expect(state.steps.last.status).toBe('PENDING');
    }
    for (const id of sagas.filter((s) => !cancelled.includes(s))) {
      await waitForStatus(rt.executor, id, 'COMPLETED');
      const events = await sagaEvents(tdb.pool, id);
      // Versions are gapless and every decision is recorded once.
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i));
      expect(events.filter((e) => e.type === 'StepSucceeded').map((e) => e.data.step)).toEqual(['first', 'wait', 'last']);
    }
  });

  it('a step started by its own worker runs even when its short timeout passed while the commit queued', async () => {
    // Every commit takes 60 ms (a slow inline projection); `quick` may take 20 ms once running.
    await rt.executor.stopWorker(); // only the slow worker runs this saga
    const slow = createSagaRuntime(tdb.pool, {
      pollIntervalMs: 50,
      handlers,
      inTransaction: () => new Promise((resolve) => setTimeout(resolve, 60)),
    });
    await slow.executor.startWorker();
    try {
      const { sagaId } = await slow.executor.start({
        tenantId,
        sagaType: 'task-workflow',
        input: {
          name: 'slow-commits',
          tasks: [
            { id: 'first', handler: 'echo', dependsOn: [], retry: NO_RETRY },
            { id: 'quick', handler: 'echo', dependsOn: ['first'], timeoutMs: 20, retry: NO_RETRY },
          ],
        },
      });
      const state = await waitForStatus(slow.executor, sagaId, ['COMPLETED', 'COMPENSATED']);
      expect(state.steps.quick.error).toBeUndefined();
      expect(state.status).toBe('COMPLETED');
    } finally {
      await slow.executor.stopWorker();
    }
  });

  it('an operator is never overtaken by a saga whose steps commit back to back: every cancel gets through', async () => {
    await rt.executor.startWorker(); // (the previous test stopped it)
    const chain = Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, handler: 'noop', dependsOn: i ? [`s${i - 1}`] : [], retry: NO_RETRY }));
    const sagas = await startAll(12, chain);
    await waitFor(async () => {
      const { rows } = await tdb.pool.query(`select count(*)::int as n from events where stream_id = any($1::text[]) and type = 'StepSucceeded'`, [
        sagas.map((id) => `saga-${id}`),
      ]);
      return rows[0].n >= 12 * 20;
    }, 'the chains to be under way');
    executorLog.length = 0;
    const outcomes = await Promise.allSettled(sagas.map((id) => rt.executor.cancel(id, tenantId, 'ops@example.com', 'stop the chain')));
    // Each cancel won on its first attempt: the saga's lock keeps workers out between its read and its append.
    expect(executorLog.filter((m) => /lost a version race/.test(m))).toEqual([]);
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message)] : []));
    // Only a saga that already finished may refuse (SAGA_NOT_RUNNING); none may lose a race.
    expect(refused.filter((m) => !/is COMPLETED, not RUNNING/.test(m))).toEqual([]);
    for (const [i, id] of sagas.entries()) {
      if (outcomes[i].status === 'rejected') continue;
      const state = await waitForStatus(rt.executor, id, 'COMPENSATED');
      expect(state.cancelRequested).toMatchObject({ actor: 'ops@example.com' });
    }
  });
});
