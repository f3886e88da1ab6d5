import { agentProvisioningPlan, AgentProvisioningInput } from '../definitions/agent-provisioning.plan';
import { taskWorkflowPlan } from '../definitions/task-workflow.plan';
import { advance } from './advance';
import { WorkflowTask } from './dag';
import { nextWork } from './next-work';
import { SagaCommand } from './saga.commands';
import { SagaEvent, SagaStarted } from './saga.events';
import { toSagaView } from './saga-view';
import { OnFailure, SagaPlan, WAIT_FOREVER_MS } from './saga.types';
import { at, given, SagaRun, T0 } from './testing/decider-spec';

/**
 * Steering a saga (API.md "Sagas", DESIGN.md "Steering a saga"): onFailure `suspend`, an
 * operator's resume / compensate / cancel, signals for `wait` steps, `startAt` (SCHEDULED).
 */

const SAGA_ID = '6f1c0d2e-0000-4000-8000-0000000000a1';

const agentInput: AgentProvisioningInput = {
  agent: {
    name: 'crawler-1',
    type: 'crawler',
    capabilities: ['crawl'],
    permissions: ['net:read'],
    resources: { cpuMillis: 500, memoryMb: 256 },
  },
};

function sagaStarted(plan: SagaPlan, options: { onFailure?: OnFailure; startAt?: string } = {}, input: unknown = {}): SagaStarted {
  return {
    type: 'SagaStarted',
    data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: plan.sagaType, input, plan, ...options, at: at(0) },
  };
}

function workflow(tasks: Partial<WorkflowTask>[], maxParallel?: number): SagaPlan {
  return taskWorkflowPlan({
    name: 'wf',
    maxParallel,
    tasks: tasks.map((t) => ({ handler: 'noop', dependsOn: [], ...t }) as WorkflowTask),
  });
}

const withUndo = { handler: 'noop' };
const suspend = { onFailure: 'suspend' as const };
const now = (ms: number) => new Date(T0 + ms);

const startStep = (step: string, ms = 0): SagaCommand => ({ type: 'StartStep', data: { step, at: at(ms) } });
const succeed = (step: string, attempt = 1, ms = 0, output?: unknown): SagaCommand => ({
  type: 'SucceedStep',
  data: { step, attempt, at: at(ms), ...(output !== undefined ? { output } : {}) },
});
const fail = (step: string, attempt = 1, ms = 0, error = 'boom', jitter = 0): SagaCommand => ({
  type: 'FailStep',
  data: { step, attempt, error, at: at(ms), jitter },
});
const failForGood = (step: string, attempt = 1, ms = 0, error = 'refused'): SagaCommand => ({
  type: 'FailStep',
  data: { step, attempt, error, at: at(ms), jitter: 0, retryable: false },
});
const timeout = (step: string, attempt: number, ms: number, timeoutMs: number): SagaCommand => ({
  type: 'FailStep',
  data: { step, attempt, error: `timeout after ${timeoutMs} ms`, code: 'TIMEOUT', at: at(ms), jitter: 0 },
});
const resume = (ms = 0, config?: unknown, actor = 'key:ops', reason = 'fixed it'): SagaCommand => ({
  type: 'ResumeSaga',
  data: { actor, reason, ...(config !== undefined ? { config } : {}), at: at(ms) },
});
const compensate = (ms = 0, actor = 'key:ops', reason = 'give up'): SagaCommand => ({ type: 'CompensateSaga', data: { actor, reason, at: at(ms) } });
const cancel = (ms = 0, actor = 'key:ops', reason = 'stop'): SagaCommand => ({ type: 'CancelSaga', data: { actor, reason, at: at(ms) } });
const signal = (name: string, signalId: string, payload?: unknown, ms = 0): SagaCommand => ({
  type: 'ReceiveSignal',
  data: { name, signalId, ...(payload !== undefined ? { payload } : {}), at: at(ms) },
});

const described = (events: SagaEvent[]) =>
  events.map((e) => {
    const step = (e.data as { step?: string }).step;
    return step ? `${e.type}:${step}` : e.type;
  });

/** Runs steps forward to success, one by one. */
function runSteps(run: SagaRun, steps: string[], ms = 0): void {
  for (const step of steps) {
    const [started] = run.do(startStep(step, ms));
    if (started.type !== 'StepStarted') throw new Error('expected StepStarted');
    run.do(succeed(step, started.data.attempt, ms));
  }
}

/** Applies advance() at `ms` like the executor's commit would, and returns what it appended. */
function advanceRun(run: SagaRun, ms: number): SagaEvent[] {
  const { events } = advance(run.state, now(ms));
  run.events.push(...events);
  return events;
}

/** Plays the executor: asks nextWork what is due and succeeds every in-process effect, until nothing is due. */
function drive(run: SagaRun, nowMs = 0): string[] {
  const effects: string[] = [];
  for (let guard = 0; guard < 200; guard++) {
    const { actions } = nextWork(run.state, now(nowMs));
    if (actions.length === 0) return effects;
    const action = actions[0];
    if (action.kind === 'start-step' || action.kind === 'retry-step') {
      const [e] = run.do(startStep(action.step, nowMs));
      if (e.type !== 'StepStarted') throw new Error('expected StepStarted');
      effects.push(`do ${action.step}`);
      run.do(succeed(action.step, e.data.attempt, nowMs));
    } else if (action.kind === 'compensate-step') {
      const [e] = run.do({ type: 'StartStepCompensation', data: { step: action.step, at: at(nowMs) } });
      if (e.type !== 'StepCompensationStarted') throw new Error('expected StepCompensationStarted');
      effects.push(`undo ${action.step}`);
      run.do({ type: 'SucceedStepCompensation', data: { step: action.step, attempt: e.data.attempt, at: at(nowMs) } });
    } else if (action.kind === 'finish-compensation') {
      run.do({ type: 'FinishCompensation', data: { at: at(nowMs) } });
    } else {
      throw new Error(`unexpected ${action.kind}`);
    }
  }
  throw new Error('saga did not settle');
}

/** a → b → c → d, each with a compensation; c fails 3 times (its retries) and the saga suspends. */
const chain = workflow([
  { id: 'a', compensation: withUndo },
  { id: 'b', dependsOn: ['a'], compensation: withUndo },
  { id: 'c', dependsOn: ['b'], compensation: withUndo, config: { failTimes: 99 } },
  { id: 'd', dependsOn: ['c'], compensation: withUndo },
]);

/** `chain` started with onFailure suspend; a and b succeeded; c failed its three attempts. */
function suspendedChain(): SagaRun {
  const run = new SagaRun(sagaStarted(chain, suspend));
  runSteps(run, ['a', 'b']);
  let ms = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    run.do(startStep('c', ms));
    const [, retry] = run.do(fail('c', attempt, ms + 10, `down ${attempt}`));
    if (retry?.type === 'StepRetryScheduled') ms = Date.parse(retry.data.dueAt) - T0;
  }
  return run;
}

describe('saga steering', () => {
  describe('onFailure: suspend', () => {
    it('a retryable failure with attempts left schedules a retry as usual: no suspension', () => {
      const run = new SagaRun(sagaStarted(chain, suspend));
      runSteps(run, ['a', 'b']);
      run.do(startStep('c', 0));
      given(run.events)
        .when(fail('c', 1, 10, 'flaky'))
        .then([
          { type: 'StepFailed', data: { step: 'c', attempt: 1, error: 'flaky', final: false, at: at(10) } },
          { type: 'StepRetryScheduled', data: { step: 'c', nextAttempt: 2, dueAt: at(110), delayMs: 100, at: at(10) } },
        ]);
      run.do(fail('c', 1, 10, 'flaky'));
      expect(run.state.status).toBe('RUNNING');
      expect(nextWork(run.state, now(110)).actions).toEqual([{ kind: 'retry-step', step: 'c' }]);
    });

    it('the final failure (after the retries) suspends the saga: StepFailed(final) + SagaSuspended; the other steps are untouched', () => {
      const run = new SagaRun(sagaStarted(chain, suspend));
      runSteps(run, ['a', 'b']);
      let ms = 0;
      for (let attempt = 1; attempt <= 2; attempt++) {
        run.do(startStep('c', ms));
        const [, retry] = run.do(fail('c', attempt, ms + 10));
        if (retry.type !== 'StepRetryScheduled') throw new Error('expected a retry');
        ms = Date.parse(retry.data.dueAt) - T0;
      }
      run.do(startStep('c', ms));
      given(run.events)
        .when(fail('c', 3, ms + 10, 'disk full'))
        .then([
          { type: 'StepFailed', data: { step: 'c', attempt: 3, error: 'disk full', final: true, at: at(ms + 10) } },
          { type: 'SagaSuspended', data: { step: 'c', error: 'disk full', at: at(ms + 10) } },
        ]);
      run.do(fail('c', 3, ms + 10, 'disk full'));
      const s = run.state;
      expect(s.status).toBe('SUSPENDED');
      expect(s.suspendedStep).toBe('c');
      expect(s.steps.a).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(s.steps.b).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(s.steps.c).toMatchObject({ status: 'FAILED', attempts: 3, error: 'disk full' });
      expect(s.steps.c.nextAttemptDueAt).toBeUndefined();
      expect(s.steps.d).toMatchObject({ status: 'PENDING', attempts: 0 });
      expect(s.compensations).toEqual([]);
      expect(run.types()).not.toContain('CompensationStarted');
      // It waits for an operator: nothing is due, however long it waits.
      expect(nextWork(s, now(10 ** 9))).toEqual({ actions: [] });
      expect(advance(s, now(10 ** 9)).events).toEqual([]);
      expect(toSagaView(s, run.events.length - 1)).toMatchObject({ status: 'SUSPENDED', progress: { completedSteps: 2, totalSteps: 4, percent: 50 } });
    });

    it('a failure that is not retryable suspends at once', () => {
      const run = new SagaRun(sagaStarted(chain, suspend));
      runSteps(run, ['a']);
      run.do(startStep('b'));
      given(run.events)
        .when(failForGood('b', 1, 5, 'QUOTA_EXCEEDED'))
        .then([
          { type: 'StepFailed', data: { step: 'b', attempt: 1, error: 'QUOTA_EXCEEDED', final: true, at: at(5) } },
          { type: 'SagaSuspended', data: { step: 'b', error: 'QUOTA_EXCEEDED', at: at(5) } },
        ]);
    });

    it('without onFailure the saga compensates as before (no SagaSuspended)', () => {
      const run = new SagaRun(sagaStarted(chain));
      runSteps(run, ['a']);
      run.do(startStep('b'));
      expect(described(run.do(failForGood('b', 1, 5)))).toEqual(['StepFailed:b', 'CompensationStarted']);
      expect(run.state.status).toBe('COMPENSATING');
    });

    it('a step in flight when the saga suspends settles, but nothing new starts', () => {
      const plan = workflow(
        [
          { id: 'slow', compensation: withUndo },
          { id: 'bad', retry: { maxAttempts: 1, backoffMs: 10 } },
          { id: 'after', dependsOn: ['slow'] },
        ],
        2,
      );
      const run = new SagaRun(sagaStarted(plan, suspend));
      run.do(startStep('slow', 0));
      run.do(startStep('bad', 0));
      expect(described(run.do(fail('bad', 1, 5)))).toEqual(['StepFailed:bad', 'SagaSuspended:bad']);
      expect(run.state.status).toBe('SUSPENDED');
      // `slow` succeeds later: recorded, the saga stays SUSPENDED and `after` does not start.
      given(run.events)
        .when(succeed('slow', 1, 20, { ok: true }))
        .then([{ type: 'StepSucceeded', data: { step: 'slow', attempt: 1, output: { ok: true }, at: at(20) } }]);
      run.do(succeed('slow', 1, 20, { ok: true }));
      expect(run.state.status).toBe('SUSPENDED');
      expect(nextWork(run.state, now(30)).actions).toEqual([]);
      given(run.events).when(startStep('after', 30)).thenThrows('STEP_NOT_STARTABLE');
    });

    it('the timeout of an attempt still in flight is still enforced while suspended', () => {
      const plan = workflow([{ id: 'slow', timeoutMs: 1000 }, { id: 'bad', retry: { maxAttempts: 1, backoffMs: 10 } }], 2);
      const run = new SagaRun(sagaStarted(plan, suspend));
      run.do(startStep('slow', 0));
      run.do(startStep('bad', 0));
      run.do(fail('bad', 1, 5));
      expect(nextWork(run.state, now(1000)).actions).toEqual([{ kind: 'timeout-step', step: 'slow', attempt: 1, phase: 'step', timeoutMs: 1000 }]);
      // While suspended a failure is final (no retry): it waits for the operator with the rest.
      expect(run.do(timeout('slow', 1, 1000, 1000))).toEqual([
        { type: 'StepFailed', data: { step: 'slow', attempt: 1, error: 'timeout after 1000 ms', code: 'TIMEOUT', final: true, at: at(1000) } },
      ]);
      expect(run.state.status).toBe('SUSPENDED');
    });
  });

  describe('ResumeSaga', () => {
    it('puts the failed step back to PENDING with fresh attempts, recorded with actor and reason; the saga RUNS', () => {
      const run = suspendedChain();
      given(run.events)
        .when(resume(5000, undefined, 'key:alice', 'vendor is back'))
        .then([{ type: 'SagaResumed', data: { actor: 'key:alice', reason: 'vendor is back', step: 'c', steps: ['c'], at: at(5000) } }]);
      run.do(resume(5000, undefined, 'key:alice', 'vendor is back'));
      const s = run.state;
      expect(s.status).toBe('RUNNING');
      expect(s.suspendedStep).toBeUndefined();
      expect(s.steps.c).toMatchObject({ status: 'PENDING', attempts: 3, attemptOffset: 3 });
      expect(s.steps.c.error).toBeUndefined();
      expect(s.steps.c.finishedAt).toBeUndefined();
      expect(s.steps.a.status).toBe('SUCCEEDED');
      expect(s.configOverrides).toBeUndefined();
      expect(nextWork(s, now(5000)).actions).toEqual([{ kind: 'start-step', step: 'c' }]);
    });

    it('attempt numbers keep growing while the retry budget counts from the resume', () => {
      const run = suspendedChain();
      run.do(resume(5000));
      // The executor commits the start with the resume (advance).
      expect(advanceRun(run, 5000)).toEqual([{ type: 'StepStarted', data: { step: 'c', attempt: 4, at: at(5000), timeoutAt: at(35_000) } }]);
      // Attempts 4 and 5 are retried: 3 fresh attempts, as the policy says.
      let ms = 5000;
      for (const attempt of [4, 5]) {
        const [failed, retry] = run.do(fail('c', attempt, ms + 10));
        expect(failed).toMatchObject({ type: 'StepFailed', data: { attempt, final: false } });
        if (retry.type !== 'StepRetryScheduled') throw new Error('expected a retry');
        expect(retry.data.nextAttempt).toBe(attempt + 1);
        ms = Date.parse(retry.data.dueAt) - T0;
        run.do(startStep('c', ms));
      }
      expect(run.state.steps.c.attempts).toBe(6);
      // The third fresh attempt is the last: suspended again.
      expect(described(run.do(fail('c', 6, ms + 10, 'still down')))).toEqual(['StepFailed:c', 'SagaSuspended:c']);
      expect(run.state.status).toBe('SUSPENDED');
      // And resumed again: the budget counts from this resume.
      run.do(resume(ms + 100));
      expect(run.state.steps.c.attemptOffset).toBe(6);
      run.do(startStep('c', ms + 100));
      expect(run.do(fail('c', 7, ms + 110))[0]).toMatchObject({ data: { attempt: 7, final: false } });
    });

    it('completes the saga when the resumed step and the rest succeed', () => {
      const run = suspendedChain();
      run.do(resume(5000));
      expect(drive(run, 5000)).toEqual(['do c', 'do d']);
      expect(run.state.status).toBe('COMPLETED');
      expect(run.state.steps.c).toMatchObject({ status: 'SUCCEEDED', attempts: 4 });
      expect(run.types().slice(-1)).toEqual(['SagaCompleted']);
      expect(toSagaView(run.state, run.events.length - 1).progress).toEqual({ completedSteps: 4, totalSteps: 4, percent: 100 });
    });

    it('records a corrected config for the suspended task (task-workflow)', () => {
      const run = suspendedChain();
      given(run.events)
        .when(resume(5000, { failTimes: 0 }, 'key:bob', 'corrected config'))
        .then([
          {
            type: 'SagaResumed',
            data: { actor: 'key:bob', reason: 'corrected config', step: 'c', steps: ['c'], config: { failTimes: 0 }, at: at(5000) },
          },
        ]);
      run.do(resume(5000, { failTimes: 0 }));
      expect(run.state.configOverrides).toEqual({ c: { failTimes: 0 } });
      // The plan itself (what was submitted) is unchanged.
      expect(run.state.plan).toEqual(chain);
    });

    it('resumes every step that failed for good, the config going to the suspending one only', () => {
      const plan = workflow(
        [
          { id: 'x', retry: { maxAttempts: 1, backoffMs: 10 } },
          { id: 'y', retry: { maxAttempts: 1, backoffMs: 10 } },
          { id: 'z', dependsOn: ['x', 'y'] },
        ],
        2,
      );
      const run = new SagaRun(sagaStarted(plan, suspend));
      run.do(startStep('x'));
      run.do(startStep('y'));
      run.do(fail('y', 1, 1));
      run.do(fail('x', 1, 2)); // settles while suspended: final as well
      expect(run.state.suspendedStep).toBe('y');
      given(run.events)
        .when(resume(10, { fixed: true }))
        .then([{ type: 'SagaResumed', data: { actor: 'key:ops', reason: 'fixed it', step: 'y', steps: ['x', 'y'], config: { fixed: true }, at: at(10) } }]);
      run.do(resume(10, { fixed: true }));
      expect(run.state.configOverrides).toEqual({ y: { fixed: true } });
      expect(described(advanceRun(run, 10))).toEqual(['StepStarted:x', 'StepStarted:y']);
      expect(run.state.steps.x.attempts).toBe(2);
    });

    it('is refused unless SUSPENDED: SAGA_NOT_SUSPENDED', () => {
      const running = new SagaRun(sagaStarted(chain, suspend));
      runSteps(running, ['a']);
      given(running.events).when(resume(1)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'RUNNING' });

      const done = new SagaRun(sagaStarted(chain, suspend));
      runSteps(done, ['a', 'b', 'c', 'd']);
      given(done.events).when(resume(1)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPLETED' });

      const compensating = suspendedChain();
      compensating.do(compensate(6000));
      compensating.do({ type: 'StartStepCompensation', data: { step: 'b', at: at(6000) } });
      expect(compensating.state.status).toBe('COMPENSATING');
      given(compensating.events).when(resume(6001)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPENSATING' });

      const scheduled = new SagaRun(sagaStarted(chain, { ...suspend, startAt: at(60_000) }), { type: 'SagaScheduled', data: { startAt: at(60_000), at: at(0) } });
      given(scheduled.events).when(resume(1)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'SCHEDULED' });
    });

    // A wait step's signal and timeout are its plan's: SagaResumed rewrites them from the config.
    it('a corrected config for a suspended wait step changes the signal it waits for and its timeout', () => {
      const plan = workflow([{ id: 'approve', handler: 'wait', config: { signal: 'old', timeoutMs: 300 }, retry: { maxAttempts: 1, backoffMs: 1 } }]);
      const run = new SagaRun(sagaStarted(plan, suspend));
      advanceRun(run, 0);
      run.do(timeout('approve', 1, 300, 300));
      expect(run.state.status).toBe('SUSPENDED');
      run.do(resume(400, { signal: 'new', timeoutMs: 60_000 }));
      expect(advanceRun(run, 400)).toEqual([{ type: 'StepStarted', data: { step: 'approve', attempt: 2, at: at(400), timeoutAt: at(60_400) } }]);
      run.do(signal('new', 'n-1', { ok: true }, 500));
      expect(described(advanceRun(run, 500))).toEqual(['StepSucceeded:approve', 'SagaCompleted']);
    });

    it('refuses a config for an agent provisioning (INVALID_COMMAND); without config it resumes', () => {
      const run = new SagaRun(sagaStarted(agentProvisioningPlan(agentInput), suspend, agentInput));
      runSteps(run, ['register-agent']);
      run.do(startStep('reserve-resources'));
      expect(described(run.do(failForGood('reserve-resources', 1, 1, 'QUOTA_EXCEEDED')))).toEqual(['StepFailed:reserve-resources', 'SagaSuspended:reserve-resources']);
      given(run.events).when(resume(2, { cpuMillis: 1 })).thenThrows('INVALID_COMMAND', { field: 'config' });
      given(run.events)
        .when(resume(2))
        .then([{ type: 'SagaResumed', data: { actor: 'key:ops', reason: 'fixed it', step: 'reserve-resources', steps: ['reserve-resources'], at: at(2) } }]);
    });

    it('two resumes: the second is refused (the saga is RUNNING by then)', () => {
      const run = suspendedChain();
      run.do(resume(5000, undefined, 'key:first'));
      given(run.events).when(resume(5001, undefined, 'key:second')).thenThrows('SAGA_NOT_SUSPENDED', { status: 'RUNNING' });
      // also once the executor started the step again
      advanceRun(run, 5000);
      given(run.events).when(resume(5002)).thenThrows('SAGA_NOT_SUSPENDED');
      expect(run.types().filter((t) => t === 'SagaResumed')).toHaveLength(1);
    });
  });

  describe('CompensateSaga', () => {
    it('compensates a SUSPENDED saga in exact reverse order and ends rolled back', () => {
      const run = suspendedChain();
      given(run.events)
        .when(compensate(6000, 'key:carol', 'order withdrawn'))
        .then([{ type: 'CompensationStarted', data: { reason: 'order withdrawn', actor: 'key:carol', at: at(6000) } }]);
      run.do(compensate(6000, 'key:carol', 'order withdrawn'));
      expect(run.state.status).toBe('COMPENSATING');
      expect(run.state.compensationActor).toBe('key:carol');
      expect(run.state.suspendedStep).toBeUndefined();
      expect(drive(run, 6000)).toEqual(['undo b', 'undo a']);
      const s = run.state;
      expect(s.status).toBe('COMPENSATED');
      expect(run.events[run.events.length - 1]).toEqual({ type: 'SagaCompensated', data: { at: at(6000), rolledBack: true } });
      expect(s.steps.c.status).toBe('FAILED');
      expect(s.steps.d.status).toBe('PENDING');
      expect(s.compensations.map((e) => `${e.status} ${e.step}`)).toEqual(['STARTED b', 'SUCCEEDED b', 'STARTED a', 'SUCCEEDED a']);
      // finished: refused now
      given(run.events).when(compensate(7000)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPENSATED' });
    });

    it('follows completion order, not plan order', () => {
      const plan = workflow(
        [{ id: 'p', compensation: withUndo }, { id: 'q', compensation: withUndo }, { id: 'r', dependsOn: ['p', 'q'], retry: { maxAttempts: 1, backoffMs: 1 } }],
        2,
      );
      const run = new SagaRun(sagaStarted(plan, suspend));
      run.do(startStep('p'));
      run.do(startStep('q'));
      run.do(succeed('q', 1, 1));
      run.do(succeed('p', 1, 2));
      run.do(startStep('r', 3));
      run.do(fail('r', 1, 4));
      run.do(compensate(5));
      expect(drive(run, 5)).toEqual(['undo p', 'undo q']);
    });

    it('with nothing to undo it is compensated at once, rolled back', () => {
      const plan = workflow([{ id: 'only', retry: { maxAttempts: 1, backoffMs: 1 } }]);
      const run = new SagaRun(sagaStarted(plan, suspend));
      run.do(startStep('only'));
      run.do(fail('only', 1, 1));
      given(run.events)
        .when(compensate(2))
        .then([
          { type: 'CompensationStarted', data: { reason: 'give up', actor: 'key:ops', at: at(2) } },
          { type: 'SagaCompensated', data: { at: at(2), rolledBack: true } },
        ]);
    });

    it('a compensation after a step failure (not an operator) is not rolled back', () => {
      const plan = workflow([{ id: 'only', retry: { maxAttempts: 1, backoffMs: 1 } }]);
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('only'));
      expect(run.do(fail('only', 1, 1)).slice(-1)).toEqual([{ type: 'SagaCompensated', data: { at: at(1) } }]);
    });

    it('is refused unless SUSPENDED', () => {
      const running = new SagaRun(sagaStarted(chain, suspend));
      given(running.events).when(compensate(1)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'RUNNING' });
      const done = new SagaRun(sagaStarted(chain, suspend));
      runSteps(done, ['a', 'b', 'c', 'd']);
      given(done.events).when(compensate(1)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPLETED' });
      const compensating = suspendedChain();
      compensating.do(compensate(6000));
      compensating.do({ type: 'StartStepCompensation', data: { step: 'b', at: at(6000) } });
      given(compensating.events).when(compensate(6001)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPENSATING' });
    });
  });

  describe('operators racing on a SUSPENDED saga', () => {
    it('cancel first: the resume that commits second is refused', () => {
      const run = suspendedChain();
      expect(described(run.do(cancel(6000)))).toEqual(['SagaCancelRequested', 'CompensationStarted']);
      given(run.events).when(resume(6001)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPENSATING' });
      expect(drive(run, 6001)).toEqual(['undo b', 'undo a']);
      expect(run.events[run.events.length - 1]).toEqual({ type: 'SagaCompensated', data: { at: at(6001), rolledBack: true } });
    });

    it('resume first: the cancel that commits second applies to the RUNNING saga', () => {
      const run = suspendedChain();
      run.do(resume(6000));
      advanceRun(run, 6000); // c runs again
      given(run.events)
        .when(cancel(6001, 'key:ops', 'changed my mind'))
        .then([
          { type: 'SagaCancelRequested', data: { actor: 'key:ops', reason: 'changed my mind', at: at(6001) } },
          { type: 'CompensationStarted', data: { reason: 'changed my mind', actor: 'key:ops', at: at(6001) } },
        ]);
      run.do(cancel(6001));
      // c's attempt in flight is interrupted (the executor aborts it): CANCELLED, final, then undo in reverse.
      run.do({ type: 'FailStep', data: { step: 'c', attempt: 4, error: 'cancelled', code: 'CANCELLED', at: at(6002), jitter: 0, retryable: false } });
      expect(run.state.steps.c).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
      expect(drive(run, 6003)).toEqual(['undo b', 'undo a']);
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('resume first, then compensate: refused (only for SUSPENDED)', () => {
      const run = suspendedChain();
      run.do(resume(6000));
      given(run.events).when(compensate(6001)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'RUNNING' });
    });

    it('compensate first, then resume: refused', () => {
      const run = suspendedChain();
      run.do(compensate(6000));
      given(run.events).when(resume(6001)).thenThrows('SAGA_NOT_SUSPENDED', { status: 'COMPENSATING' });
    });
  });

  describe('CancelSaga in SCHEDULED and SUSPENDED', () => {
    it('a SCHEDULED saga is compensated at once with nothing run', () => {
      const run = new SagaRun(sagaStarted(chain, { startAt: at(60_000) }), { type: 'SagaScheduled', data: { startAt: at(60_000), at: at(0) } });
      expect(run.state.status).toBe('SCHEDULED');
      given(run.events)
        .when(cancel(10, 'key:ops', 'not needed'))
        .then([
          { type: 'SagaCancelRequested', data: { actor: 'key:ops', reason: 'not needed', at: at(10) } },
          { type: 'CompensationStarted', data: { reason: 'not needed', actor: 'key:ops', at: at(10) } },
          { type: 'SagaCompensated', data: { at: at(10), rolledBack: true } },
        ]);
      run.do(cancel(10));
      expect(run.state.status).toBe('COMPENSATED');
      expect(Object.values(run.state.steps).map((s) => s.status)).toEqual(['PENDING', 'PENDING', 'PENDING', 'PENDING']);
      // Its start time passes: nothing runs.
      expect(nextWork(run.state, now(120_000))).toEqual({ actions: [] });
      given(run.events).when(startStep('a', 120_000)).thenThrows('STEP_NOT_STARTABLE');
    });

    it('a SUSPENDED saga compensates what it completed, in reverse order, rolled back', () => {
      const run = suspendedChain();
      run.do(cancel(6000, 'key:dave', 'customer left'));
      expect(run.state.cancelRequested).toEqual({ actor: 'key:dave', reason: 'customer left', at: at(6000) });
      expect(drive(run, 6000)).toEqual(['undo b', 'undo a']);
      expect(run.events[run.events.length - 1]).toEqual({ type: 'SagaCompensated', data: { at: at(6000), rolledBack: true } });
    });

    it('a running wait step fails at once with CANCELLED in the same commit (advance)', () => {
      const plan = workflow([
        { id: 'a', compensation: withUndo },
        { id: 'approve', handler: 'wait', config: { signal: 'approved' }, dependsOn: ['a'] },
      ]);
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      run.do(startStep('approve', 1));
      run.do(cancel(2));
      expect(nextWork(run.state, now(2)).actions).toEqual([{ kind: 'cancel-step', step: 'approve', attempt: 1 }]);
      const { events, state } = advance(run.state, now(2));
      expect(described(events)).toEqual(['StepFailed:approve', 'StepCompensationStarted:a']);
      expect(events[0].data).toMatchObject({ code: 'CANCELLED', final: true });
      expect(state.steps.approve).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
    });

    it('is refused once the saga is terminal', () => {
      const run = new SagaRun(sagaStarted(chain, { startAt: at(60_000) }), { type: 'SagaScheduled', data: { startAt: at(60_000), at: at(0) } });
      run.do(cancel(10));
      given(run.events).when(cancel(11)).thenThrows('SAGA_NOT_RUNNING');
    });
  });

  describe('signals and wait steps', () => {
    /** prepare → approve (wait for `approved`) → notify (echo). */
    const approval = (waitConfig: Record<string, unknown> = {}, task: Partial<WorkflowTask> = {}) =>
      workflow([
        { id: 'prepare', compensation: withUndo },
        { id: 'approve', handler: 'wait', dependsOn: ['prepare'], config: { signal: 'approved', ...waitConfig }, ...task },
        { id: 'notify', handler: 'echo', dependsOn: ['approve'], config: { by: '{{ approve.output.by }}' } },
      ]);

    it('plans a wait step: waitFor its signal, timeout from config.timeoutMs, else the task timeoutMs, else none', () => {
      expect(approval().steps[1]).toMatchObject({ name: 'approve', waitFor: 'approved', timeoutMs: WAIT_FOREVER_MS });
      expect(approval({ timeoutMs: 300 }).steps[1].timeoutMs).toBe(300);
      expect(approval({}, { timeoutMs: 700 }).steps[1].timeoutMs).toBe(700);
      expect(approval({ timeoutMs: 300 }, { timeoutMs: 700 }).steps[1].timeoutMs).toBe(300);
    });

    it('records a signal: SignalReceived', () => {
      given(sagaStarted(approval()))
        .when(signal('approved', 'sig-1', { by: 'alice' }, 5))
        .then([{ type: 'SignalReceived', data: { name: 'approved', signalId: 'sig-1', payload: { by: 'alice' }, at: at(5) } }]);
    });

    it('a late signal (the wait is running) completes the wait with its payload; the next step starts', () => {
      const run = new SagaRun(sagaStarted(approval()));
      runSteps(run, ['prepare']);
      advanceRun(run, 1);
      expect(run.state.steps.approve.status).toBe('RUNNING');
      expect(toSagaView(run.state, 0).steps[1].waitingFor).toEqual({ signal: 'approved' });
      // Nothing due while it waits (no limit).
      expect(advance(run.state, now(10 ** 6)).events).toEqual([]);
      run.do(signal('approved', 'sig-1', { by: 'alice' }, 100));
      expect(nextWork(run.state, now(100)).actions).toEqual([
        { kind: 'deliver-signal', step: 'approve', attempt: 1, signalId: 'sig-1', payload: { by: 'alice' } },
      ]);
      const events = advanceRun(run, 100);
      expect(events).toEqual([
        { type: 'StepSucceeded', data: { step: 'approve', attempt: 1, output: { by: 'alice' }, signalId: 'sig-1', at: at(100) } },
        { type: 'StepStarted', data: { step: 'notify', attempt: 1, at: at(100), timeoutAt: at(30_100) } },
      ]);
      expect(run.state.signals).toEqual([{ name: 'approved', signalId: 'sig-1', payload: { by: 'alice' }, at: at(100), consumedBy: 'approve' }]);
      expect(run.state.steps.approve.output).toEqual({ by: 'alice' });
    });

    it('a signal without payload completes the wait with null', () => {
      const run = new SagaRun(sagaStarted(approval()));
      runSteps(run, ['prepare']);
      advanceRun(run, 1);
      run.do(signal('approved', 'sig-1', undefined, 2));
      expect(advanceRun(run, 2)[0]).toEqual({ type: 'StepSucceeded', data: { step: 'approve', attempt: 1, output: null, signalId: 'sig-1', at: at(2) } });
    });

    it('an early signal (before the wait starts) is kept and taken as soon as the wait starts', () => {
      const run = new SagaRun(sagaStarted(approval()));
      run.do(startStep('prepare', 0));
      run.do(signal('approved', 'early', { by: 'bob' }, 5));
      expect(run.state.signals).toEqual([{ name: 'approved', signalId: 'early', payload: { by: 'bob' }, at: at(5) }]);
      expect(nextWork(run.state, now(5)).actions).toEqual([]);
      run.do(succeed('prepare', 1, 1500));
      // One advance: the wait starts and takes the kept signal, then notify starts.
      expect(described(advanceRun(run, 1500))).toEqual(['StepStarted:approve', 'StepSucceeded:approve', 'StepStarted:notify']);
      expect(run.state.steps.approve).toMatchObject({ status: 'SUCCEEDED', output: { by: 'bob' } });
    });

    it('another signal name does not complete the wait', () => {
      const run = new SagaRun(sagaStarted(approval()));
      runSteps(run, ['prepare']);
      advanceRun(run, 1);
      run.do(signal('rejected', 'sig-x', { no: true }, 2));
      expect(advance(run.state, now(2)).events).toEqual([]);
      expect(run.state.steps.approve.status).toBe('RUNNING');
    });

    it('the same signalId twice is one delivery: no events the second time', () => {
      const run = new SagaRun(sagaStarted(approval()));
      run.do(signal('approved', 'sig-1', { by: 'alice' }, 1));
      given(run.events).when(signal('approved', 'sig-1', { by: 'mallory' }, 2)).thenNothing();
      // even under another name
      given(run.events).when(signal('other', 'sig-1', {}, 2)).thenNothing();
    });

    it('two waits of one name need two signals; a duplicate delivers nothing', () => {
      const plan = workflow(
        [
          { id: 'first', handler: 'wait', config: { signal: 'go' } },
          { id: 'second', handler: 'wait', config: { signal: 'go' } },
        ],
        2,
      );
      const run = new SagaRun(sagaStarted(plan));
      expect(described(advanceRun(run, 0))).toEqual(['StepStarted:first', 'StepStarted:second']);
      run.do(signal('go', 'g-1', { n: 1 }, 10));
      // Both would take it: advance hands it to one wait only.
      const delivered = advanceRun(run, 10);
      expect(delivered).toEqual([{ type: 'StepSucceeded', data: { step: 'first', attempt: 1, output: { n: 1 }, signalId: 'g-1', at: at(10) } }]);
      expect(run.state.steps.second.status).toBe('RUNNING');
      expect(nextWork(run.state, now(11)).actions).toEqual([]);
      // The same signal again: nothing.
      given(run.events).when(signal('go', 'g-1', { n: 1 }, 12)).thenNothing();
      // A second, distinct signal completes the second wait, and the saga.
      run.do(signal('go', 'g-2', { n: 2 }, 20));
      expect(advanceRun(run, 20)).toEqual([
        { type: 'StepSucceeded', data: { step: 'second', attempt: 1, output: { n: 2 }, signalId: 'g-2', at: at(20) } },
        { type: 'SagaCompleted', data: { at: at(20) } },
      ]);
      expect(run.state.signals!.map((s) => [s.signalId, s.consumedBy])).toEqual([
        ['g-1', 'first'],
        ['g-2', 'second'],
      ]);
    });

    it('two early signals for two waits of one name: each wait takes one, in arrival order', () => {
      const plan = workflow([
        { id: 'first', handler: 'wait', config: { signal: 'go' } },
        { id: 'second', handler: 'wait', config: { signal: 'go' }, dependsOn: ['first'] },
      ]);
      const run = new SagaRun(sagaStarted(plan));
      run.do(signal('go', 'g-1', 1, 1));
      run.do(signal('go', 'g-2', 2, 2));
      advanceRun(run, 3);
      expect(run.state.status).toBe('COMPLETED');
      expect(run.state.steps.first.output).toBe(1);
      expect(run.state.steps.second.output).toBe(2);
    });

    it('a terminal saga refuses a new signal (SAGA_TERMINAL), but a repeated one is still no events', () => {
      const completed = new SagaRun(sagaStarted(approval()));
      runSteps(completed, ['prepare']);
      completed.do(signal('approved', 'sig-1', { by: 'alice' }, 1));
      advanceRun(completed, 1);
      completed.do(succeed('notify', 1, 2, { by: 'alice' }));
      expect(completed.state.status).toBe('COMPLETED');
      given(completed.events).when(signal('approved', 'sig-2', {}, 3)).thenThrows('SAGA_TERMINAL', { status: 'COMPLETED' });
      given(completed.events).when(signal('approved', 'sig-1', { by: 'alice' }, 3)).thenNothing();

      const compensated = new SagaRun(sagaStarted(approval()));
      compensated.do(signal('approved', 'sig-9', {}, 1));
      compensated.do(cancel(2));
      expect(compensated.state.status).toBe('COMPENSATED');
      given(compensated.events).when(signal('approved', 'sig-10', {}, 3)).thenThrows('SAGA_TERMINAL', { status: 'COMPENSATED' });
      given(compensated.events).when(signal('approved', 'sig-9', {}, 3)).thenNothing();
    });

    it('a saga that is not terminal takes signals (SCHEDULED, SUSPENDED, COMPENSATING)', () => {
      const scheduled = new SagaRun(sagaStarted(approval(), { startAt: at(60_000) }), { type: 'SagaScheduled', data: { startAt: at(60_000), at: at(0) } });
      expect(described(scheduled.do(signal('approved', 's', {}, 1)))).toEqual(['SignalReceived']);
      expect(described(suspendedChain().do(signal('approved', 's', {}, 1)))).toEqual(['SignalReceived']);
      const compensating = suspendedChain();
      compensating.do(compensate(6000));
      compensating.do({ type: 'StartStepCompensation', data: { step: 'b', at: at(6000) } });
      expect(described(compensating.do(signal('approved', 's', {}, 6001)))).toEqual(['SignalReceived']);
    });

    it('a wait in a SUSPENDED saga keeps its signal until the resume', () => {
      const plan = workflow(
        [
          { id: 'approve', handler: 'wait', config: { signal: 'approved' } },
          { id: 'bad', retry: { maxAttempts: 1, backoffMs: 1 } },
        ],
        2,
      );
      const run = new SagaRun(sagaStarted(plan, suspend));
      advanceRun(run, 0);
      run.do(fail('bad', 1, 1));
      expect(run.state.status).toBe('SUSPENDED');
      run.do(signal('approved', 's-1', { ok: 1 }, 2));
      expect(advance(run.state, now(2)).events).toEqual([]);
      run.do(resume(3, { fixed: 1 }));
      expect(described(advanceRun(run, 3))).toEqual(['StepSucceeded:approve', 'StepStarted:bad']);
    });

    it('a wait times out after config.timeoutMs and follows the retry policy (each attempt waits again), then the saga compensates', () => {
      const plan = approval({ timeoutMs: 300 }, { retry: { maxAttempts: 2, backoffMs: 10 } });
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['prepare']);
      expect(advanceRun(run, 0)).toEqual([{ type: 'StepStarted', data: { step: 'approve', attempt: 1, at: at(0), timeoutAt: at(300) } }]);
      expect(nextWork(run.state, now(299)).actions).toEqual([]);
      expect(nextWork(run.state, now(299)).nextDueAt).toBe(at(300));
      expect(nextWork(run.state, now(300)).actions).toEqual([{ kind: 'timeout-step', step: 'approve', attempt: 1, phase: 'step', timeoutMs: 300 }]);
      const [failed, retry] = run.do(timeout('approve', 1, 300, 300));
      expect(failed).toEqual({ type: 'StepFailed', data: { step: 'approve', attempt: 1, error: 'timeout after 300 ms', code: 'TIMEOUT', final: false, at: at(300) } });
      expect(retry).toEqual({ type: 'StepRetryScheduled', data: { step: 'approve', nextAttempt: 2, dueAt: at(305), delayMs: 5, at: at(300) } });
      // The second attempt waits again, for 300 ms.
      expect(advanceRun(run, 305)).toEqual([{ type: 'StepStarted', data: { step: 'approve', attempt: 2, at: at(305), timeoutAt: at(605) } }]);
      expect(run.state.steps.approve.status).toBe('RUNNING');
      expect(described(run.do(timeout('approve', 2, 605, 300)))).toEqual(['StepFailed:approve', 'CompensationStarted']);
      expect(drive(run, 605)).toEqual(['undo prepare']);
      expect(run.state.status).toBe('COMPENSATED');
      expect(run.state.steps.approve).toMatchObject({ status: 'FAILED', errorCode: 'TIMEOUT', attempts: 2 });
      expect(run.state.steps.notify.status).toBe('PENDING');
    });

    it('a signal arriving between a timed-out attempt and its retry is taken by the retry', () => {
      const plan = approval({ timeoutMs: 300 }, { retry: { maxAttempts: 2, backoffMs: 10 } });
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['prepare']);
      advanceRun(run, 0);
      run.do(timeout('approve', 1, 300, 300));
      run.do(signal('approved', 'late', { by: 'zoe' }, 302));
      expect(advance(run.state, now(303)).events).toEqual([]); // retry not due yet
      expect(described(advanceRun(run, 305))).toEqual(['StepStarted:approve', 'StepSucceeded:approve', 'StepStarted:notify']);
      expect(run.state.steps.approve).toMatchObject({ status: 'SUCCEEDED', attempts: 2, output: { by: 'zoe' } });
      expect(run.state.steps.approve.errorCode).toBeUndefined();
    });
  });

  describe('startAt: SCHEDULED', () => {
    const plan = workflow([{ id: 'a' }, { id: 'b', dependsOn: ['a'] }]);
    const startCommand = (startAt: string | undefined, ms = 0): SagaCommand => ({
      type: 'StartSaga',
      data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: 'task-workflow', input: {}, plan, ...(startAt ? { startAt } : {}), at: at(ms) },
    });

    it('a start time ahead: SagaStarted + SagaScheduled, status SCHEDULED', () => {
      given()
        .when(startCommand(at(3000)))
        .then([
          { type: 'SagaStarted', data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: 'task-workflow', input: {}, plan, startAt: at(3000), at: at(0) } },
          { type: 'SagaScheduled', data: { startAt: at(3000), at: at(0) } },
        ]);
      const run = new SagaRun();
      run.do(startCommand(at(3000)));
      expect(run.state.status).toBe('SCHEDULED');
      expect(run.state.startAt).toBe(at(3000));
      expect(toSagaView(run.state, 1)).toMatchObject({ status: 'SCHEDULED', progress: { completedSteps: 0, totalSteps: 2, percent: 0 } });
    });

    it('a start time that has come (or none): only SagaStarted, RUNNING', () => {
      expect(described(new SagaRun().do(startCommand(at(0), 0)))).toEqual(['SagaStarted']);
      expect(described(new SagaRun().do(startCommand(at(-5000), 0)))).toEqual(['SagaStarted']);
      const run = new SagaRun();
      run.do(startCommand(undefined));
      expect(run.state.status).toBe('RUNNING');
    });

    it('nothing is due before startAt; nextWork wakes it at startAt; then the steps start and it RUNS', () => {
      const run = new SagaRun();
      run.do(startCommand(at(3000)));
      expect(nextWork(run.state, now(0))).toEqual({ actions: [], nextDueAt: at(3000) });
      expect(nextWork(run.state, now(2999))).toEqual({ actions: [], nextDueAt: at(3000) });
      expect(advance(run.state, now(2999)).events).toEqual([]);
      given(run.events).when(startStep('a', 2999)).thenThrows('STEP_NOT_STARTABLE');
      expect(nextWork(run.state, now(3000)).actions).toEqual([{ kind: 'start-step', step: 'a' }]);
      expect(advanceRun(run, 3000)).toEqual([{ type: 'StepStarted', data: { step: 'a', attempt: 1, at: at(3000), timeoutAt: at(33_000) } }]);
      expect(run.state.status).toBe('RUNNING');
      expect(Date.parse(run.state.steps.a.startedAt!)).toBeGreaterThanOrEqual(T0 + 3000);
      expect(nextWork(run.state, now(3001)).actions).toEqual([]); // a runs
      run.do(succeed('a', 1, 3002));
      expect(drive(run, 3003)).toEqual(['do b']);
      expect(run.state.status).toBe('COMPLETED');
    });
  });

  describe('progress', () => {
    it('goes from 0 to 100 as steps complete; skipped steps count as completed', () => {
      const plan = workflow([{ id: 'a' }, { id: 'b', dependsOn: ['a'] }, { id: 'c', dependsOn: ['b'] }]);
      const run = new SagaRun(sagaStarted(plan));
      const percents = [toSagaView(run.state, 0).progress.percent];
      for (const step of ['a', 'b', 'c']) {
        runSteps(run, [step]);
        percents.push(toSagaView(run.state, run.events.length - 1).progress.percent);
      }
      expect(percents).toEqual([0, 33, 67, 100]);
      expect(toSagaView(run.state, run.events.length - 1).progress).toEqual({ completedSteps: 3, totalSteps: 3, percent: 100 });
    });
  });
});
