import { agentProvisioningPlan, AgentProvisioningInput, AGENT_PROVISIONING_STEPS } from '../definitions/agent-provisioning.plan';
import { taskWorkflowPlan } from '../definitions/task-workflow.plan';
import { WorkflowTask } from './dag';
import { nextWork } from './next-work';
import { SagaCommand } from './saga.commands';
import { sagaDecider } from './saga.decider';
import { SagaEvent, SagaStarted } from './saga.events';
import { SagaPlan } from './saga.types';
import { at, given, SagaRun, T0 } from './testing/decider-spec';

const SAGA_ID = '6f1c0d2e-0000-4000-8000-000000000001';

const agentInput: AgentProvisioningInput = {
  agent: {
    name: 'crawler-1',
    type: 'crawler',
    capabilities: ['crawl'],
    permissions: ['net:read'],
    resources: { cpuMillis: 500, memoryMb: 256 },
  },
};

function sagaStarted(plan: SagaPlan, input: unknown = {}): SagaStarted {
  return {
    type: 'SagaStarted',
    data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: plan.sagaType, input, plan, at: at(0) },
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

const startStep = (step: string, ms = 0): SagaCommand => ({ type: 'StartStep', data: { step, at: at(ms) } });
const succeed = (step: string, attempt = 1, ms = 0, output?: unknown): SagaCommand => ({
  type: 'SucceedStep',
  data: { step, attempt, at: at(ms), ...(output !== undefined ? { output } : {}) },
});
const fail = (step: string, attempt = 1, ms = 0, error = 'boom', jitter = 0): SagaCommand => ({
  type: 'FailStep',
  data: { step, attempt, error, at: at(ms), jitter },
});
const startComp = (step: string, ms = 0): SagaCommand => ({ type: 'StartStepCompensation', data: { step, at: at(ms) } });
const compOk = (step: string, attempt = 1, ms = 0): SagaCommand => ({
  type: 'SucceedStepCompensation',
  data: { step, attempt, at: at(ms) },
});
const compFail = (step: string, attempt = 1, ms = 0, error = 'nope', jitter = 0): SagaCommand => ({
  type: 'FailStepCompensation',
  data: { step, attempt, error, at: at(ms), jitter },
});

/** Runs steps forward to success (one by one, as nextWork proposes them) until `stopBefore` would start. */
function runSteps(run: SagaRun, steps: string[]): void {
  for (const step of steps) {
    const [started] = run.do(startStep(step));
    if (started.type !== 'StepStarted') throw new Error('expected StepStarted');
    run.do(succeed(step, started.data.attempt));
  }
}

/** Plays the executor: asks nextWork what is due and succeeds every effect, until nothing is due. */
function drive(run: SagaRun, nowMs = 0): string[] {
  const effects: string[] = [];
  for (let guard = 0; guard < 200; guard++) {
    const { actions } = nextWork(run.state, new Date(T0 + nowMs));
    if (actions.length === 0) return effects;
    for (const action of actions) {
      if (action.kind === 'start-step' || action.kind === 'retry-step') {
        const [e] = run.do(startStep(action.step, nowMs));
        if (e.type !== 'StepStarted') throw new Error('expected StepStarted');
        effects.push(`do ${action.step}`);
        run.do(succeed(action.step, e.data.attempt, nowMs, { from: action.step }));
      } else if (action.kind === 'compensate-step') {
        const [e] = run.do(startComp(action.step, nowMs));
        if (e.type !== 'StepCompensationStarted') throw new Error('expected StepCompensationStarted');
        effects.push(`undo ${action.step}`);
        run.do(compOk(action.step, e.data.attempt, nowMs));
      } else if (action.kind === 'finish-compensation') {
        run.do({ type: 'FinishCompensation', data: { at: at(nowMs) } });
      } else {
        throw new Error(`unexpected ${action.kind}`);
      }
    }
  }
  throw new Error('saga did not settle');
}

describe('saga decider', () => {
  describe('StartSaga', () => {
    const plan = agentProvisioningPlan(agentInput);
    it('starts a saga', () => {
      given()
        .when({
          type: 'StartSaga',
          data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: 'agent-provisioning', input: agentInput, plan, idempotencyKey: 'k1', at: new Date(T0) },
        })
        .then([
          {
            type: 'SagaStarted',
            data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: 'agent-provisioning', input: agentInput, plan, idempotencyKey: 'k1', at: at(0) },
          },
        ]);
    });
    it('refuses to start a saga twice', () => {
      given(sagaStarted(plan))
        .when({ type: 'StartSaga', data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: 'agent-provisioning', input: {}, plan, at: at(1) } })
        .thenThrows('SAGA_EXISTS');
    });
    it('refuses an invalid plan', () => {
      const bad: SagaPlan = { sagaType: 'task-workflow', maxParallel: 1, steps: [{ ...plan.steps[1], dependsOn: ['ghost'] }] };
      given()
        .when({ type: 'StartSaga', data: { sagaId: SAGA_ID, tenantId: 'acme', sagaType: 'task-workflow', input: {}, plan: bad, at: at(0) } })
        .thenThrows('INVALID_PLAN');
    });
    it('refuses commands for a saga that was never started', () => {
      given().when(startStep('register-agent')).thenThrows('SAGA_NOT_FOUND');
    });
    it('exposes the decider shape', () => {
      expect(sagaDecider.initialState().status).toBe('NOT_STARTED');
      expect(typeof sagaDecider.evolve).toBe('function');
      expect(typeof sagaDecider.decide).toBe('function');
    });
  });

  describe('happy paths', () => {
    it('provisions an agent: six steps, one at a time, in order, then SagaCompleted', () => {
      const run = new SagaRun(sagaStarted(agentProvisioningPlan(agentInput), agentInput));
      expect(drive(run)).toEqual(AGENT_PROVISIONING_STEPS.map((s) => `do ${s}`));
      expect(run.state.status).toBe('COMPLETED');
      expect(run.state.completionOrder).toEqual([...AGENT_PROVISIONING_STEPS]);
      expect(run.events[run.events.length - 1]).toEqual({ type: 'SagaCompleted', data: { at: at(0) } });
      expect(run.state.finishedAt).toBe(at(0));
    });

    it('runs a task workflow DAG: dependencies first, then SagaCompleted', () => {
      const plan = workflow([
        { id: 'fetch' },
        { id: 'parse', dependsOn: ['fetch'] },
        { id: 'index', dependsOn: ['fetch'] },
        { id: 'report', dependsOn: ['parse', 'index'] },
      ]);
      const run = new SagaRun(sagaStarted(plan));
      expect(drive(run)).toEqual(['do fetch', 'do parse', 'do index', 'do report']);
      expect(run.state.status).toBe('COMPLETED');
      expect(run.state.steps.report.output).toEqual({ from: 'report' });
      expect(run.types().filter((t) => t === 'SagaCompleted')).toHaveLength(1);
    });

    it('completes only when the last step succeeds', () => {
      const plan = workflow([{ id: 'a' }, { id: 'b' }], 2);
      given(sagaStarted(plan), { type: 'StepStarted', data: { step: 'a', attempt: 1, at: at(0), timeoutAt: at(30_000) } })
        .when(succeed('a', 1, 5, { n: 1 }))
        .then([{ type: 'StepSucceeded', data: { step: 'a', attempt: 1, output: { n: 1 }, at: at(5) } }]);
    });
  });

  describe('StartStep', () => {
    const plan = workflow([{ id: 'a' }, { id: 'b', dependsOn: ['a'] }, { id: 'c' }], 1);

    it('starts attempt 1 with a timeout', () => {
      given(sagaStarted(plan))
        .when(startStep('a', 10))
        .then([{ type: 'StepStarted', data: { step: 'a', attempt: 1, at: at(10), timeoutAt: at(30_010) } }]);
    });
    it('refuses a step whose dependencies did not succeed', () => {
      given(sagaStarted(plan)).when(startStep('b')).thenThrows('STEP_NOT_STARTABLE');
    });
    it('refuses a step that is already running', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      given(run.events).when(startStep('a')).thenThrows('STEP_NOT_STARTABLE');
    });
    it('refuses a step beyond maxParallel', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      given(run.events).when(startStep('c')).thenThrows('STEP_NOT_STARTABLE');
    });
    it('refuses a step that already succeeded', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      given(run.events).when(startStep('a')).thenThrows('STEP_NOT_STARTABLE');
    });
    it('refuses an unknown step', () => {
      given(sagaStarted(plan)).when(startStep('zzz')).thenThrows('UNKNOWN_STEP');
    });
    it('refuses to start steps once the saga compensates', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do({ type: 'CancelSaga', data: { actor: 'op', reason: 'stop', at: at(0) } });
      given(run.events).when(startStep('c')).thenThrows('STEP_NOT_STARTABLE');
    });
  });

  describe('retries', () => {
    const plan = workflow([{ id: 'a', compensation: withUndo }, { id: 'b', dependsOn: ['a'] }]);

    it('schedules a retry with exponential backoff and jitter', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a', 0));
      // attempt 1: base 200 ms, jitter 0 -> 50 %
      given(run.events)
        .when(fail('a', 1, 100, 'flaky', 0))
        .then([
          { type: 'StepFailed', data: { step: 'a', attempt: 1, error: 'flaky', final: false, at: at(100) } },
          { type: 'StepRetryScheduled', data: { step: 'a', nextAttempt: 2, dueAt: at(200), delayMs: 100, at: at(100) } },
        ]);
      // jitter 1 -> 100 % of the base
      const produced = sagaDecider.decide(fail('a', 1, 100, 'flaky', 1), run.state);
      expect(produced[1]).toMatchObject({ data: { delayMs: 200, dueAt: at(300) } });
    });

    it('grows the delay by the multiplier per attempt and caps it', () => {
      const slow = workflow([{ id: 'a', retry: { maxAttempts: 10, backoffMs: 5_000 } }]);
      const run = new SagaRun(sagaStarted(slow));
      const delays: number[] = [];
      let now = 0;
      for (let attempt = 1; attempt <= 5; attempt++) {
        run.do(startStep('a', now));
        const [, scheduled] = run.do(fail('a', attempt, now, 'flaky', 1));
        if (scheduled.type !== 'StepRetryScheduled') throw new Error('expected a retry');
        delays.push(scheduled.data.delayMs);
        now = Date.parse(scheduled.data.dueAt) - T0;
      }
      expect(delays).toEqual([5_000, 10_000, 20_000, 30_000, 30_000]);
    });

    it('retries when due, then succeeds', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a', 0));
      run.do(fail('a', 1, 100, 'flaky', 0)); // due at 200
      expect(() => run.do(startStep('a', 150))).toThrow(expect.objectContaining({ code: 'STEP_NOT_STARTABLE' }));
      expect(run.do(startStep('a', 200))).toEqual([
        { type: 'StepStarted', data: { step: 'a', attempt: 2, at: at(200), timeoutAt: at(30_200) } },
      ]);
      run.do(succeed('a', 2, 250));
      runSteps(run, ['b']);
      expect(run.state.status).toBe('COMPLETED');
      expect(run.state.steps.a).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
      expect(run.state.steps.a.error).toBeUndefined();
    });

    it('fails for good after maxAttempts and starts compensating', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      for (let attempt = 1; attempt <= 2; attempt++) {
        run.do(startStep('b', attempt * 1000));
        run.do(fail('b', attempt, attempt * 1000));
      }
      run.do(startStep('b', 3000));
      given(run.events)
        .when(fail('b', 3, 3100, 'disk full'))
        .then([
          { type: 'StepFailed', data: { step: 'b', attempt: 3, error: 'disk full', final: true, at: at(3100) } },
          { type: 'CompensationStarted', data: { reason: 'step b failed: disk full', failedStep: 'b', at: at(3100) } },
        ]);
    });

    it('does not retry a failure marked not retryable', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      given(run.events)
        .when({ type: 'FailStep', data: { step: 'a', attempt: 1, error: 'QUOTA_EXCEEDED', at: at(1), jitter: 0, retryable: false } })
        .then([
          { type: 'StepFailed', data: { step: 'a', attempt: 1, error: 'QUOTA_EXCEEDED', final: true, at: at(1) } },
          { type: 'CompensationStarted', data: { reason: 'step a failed: QUOTA_EXCEEDED', failedStep: 'a', at: at(1) } },
          // nothing completed: compensation is over at once
          { type: 'SagaCompensated', data: { at: at(1) } },
        ]);
    });
  });

  describe('compensation order', () => {
    it('undoes an agent provisioning in exact reverse order and leaves untouched steps PENDING', () => {
      const run = new SagaRun(sagaStarted(agentProvisioningPlan(agentInput), agentInput));
      runSteps(run, ['register-agent', 'reserve-resources', 'grant-permissions']);
      run.do(startStep('register-service'));
      run.do({ type: 'FailStep', data: { step: 'register-service', attempt: 1, error: 'NAME_TAKEN', at: at(1), jitter: 0, retryable: false } });
      expect(run.state.status).toBe('COMPENSATING');
      expect(drive(run)).toEqual(['undo grant-permissions', 'undo reserve-resources', 'undo register-agent']);
      const s = run.state;
      expect(s.status).toBe('COMPENSATED');
      expect(s.steps['register-service'].status).toBe('FAILED');
      expect(s.steps['run-initial-task'].status).toBe('PENDING');
      expect(s.steps['activate-agent'].status).toBe('PENDING');
      expect(s.compensations.map((e) => `${e.status} ${e.step}`)).toEqual([
        'STARTED grant-permissions',
        'SUCCEEDED grant-permissions',
        'STARTED reserve-resources',
        'SUCCEEDED reserve-resources',
        'STARTED register-agent',
        'SUCCEEDED register-agent',
      ]);
    });

    it('follows completion order, not plan order, in a parallel DAG', () => {
      const plan = workflow(
        [
          { id: 'a', compensation: withUndo },
          { id: 'b', compensation: withUndo },
          { id: 'c', compensation: withUndo },
          { id: 'd', dependsOn: ['a', 'b', 'c'] },
        ],
        3,
      );
      const run = new SagaRun(sagaStarted(plan));
      expect(nextWork(run.state, new Date(T0)).actions).toEqual([
        { kind: 'start-step', step: 'a' },
        { kind: 'start-step', step: 'b' },
        { kind: 'start-step', step: 'c' },
      ]);
      run.do(startStep('a'));
      run.do(startStep('b'));
      run.do(startStep('c'));
      run.do(succeed('c', 1, 10));
      run.do(succeed('a', 1, 20));
      run.do(succeed('b', 1, 30));
      expect(run.state.completionOrder).toEqual(['c', 'a', 'b']);
      run.do(startStep('d', 40));
      run.do({ type: 'FailStep', data: { step: 'd', attempt: 1, error: 'bad', at: at(50), jitter: 0, retryable: false } });
      expect(drive(run, 60)).toEqual(['undo b', 'undo a', 'undo c']);
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('compensates a step that succeeds while the saga is already compensating', () => {
      const plan = workflow(
        [
          { id: 'a', compensation: withUndo },
          { id: 'slow', compensation: withUndo },
          { id: 'bad', dependsOn: ['a'] },
        ],
        2,
      );
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      run.do(startStep('slow'));
      run.do(succeed('a', 1, 10));
      run.do(startStep('bad', 20));
      run.do({ type: 'FailStep', data: { step: 'bad', attempt: 1, error: 'x', at: at(30), jitter: 0, retryable: false } });
      expect(run.state.status).toBe('COMPENSATING');
      // `slow` is still in flight: nothing is compensated before it settles
      expect(nextWork(run.state, new Date(T0 + 40)).actions).toEqual([]);
      given(run.events).when(startComp('a', 40)).thenThrows('STEP_NOT_COMPENSABLE');

      given(run.events)
        .when(succeed('slow', 1, 50))
        .then([{ type: 'StepSucceeded', data: { step: 'slow', attempt: 1, at: at(50) } }]);
      run.do(succeed('slow', 1, 50));
      expect(run.state.completionOrder).toEqual(['a', 'slow']);
      expect(drive(run, 60)).toEqual(['undo slow', 'undo a']);
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('finishes compensating when the last step in flight fails and nothing completed', () => {
      const plan = workflow([{ id: 'a' }, { id: 'b' }], 2);
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      run.do(startStep('b'));
      run.do({ type: 'FailStep', data: { step: 'a', attempt: 1, error: 'x', at: at(1), jitter: 0, retryable: false } });
      expect(run.state.status).toBe('COMPENSATING');
      // while compensating a failure is final: no retry
      given(run.events)
        .when(fail('b', 1, 2, 'y'))
        .then([
          { type: 'StepFailed', data: { step: 'b', attempt: 1, error: 'y', final: true, at: at(2) } },
          { type: 'SagaCompensated', data: { at: at(2) } },
        ]);
    });

    it('never compensates steps without a compensation (pivot or nothing to undo)', () => {
      const plan = workflow([
        { id: 'read' },
        { id: 'write', dependsOn: ['read'], compensation: withUndo },
        { id: 'notify', dependsOn: ['write'] },
        { id: 'last', dependsOn: ['notify'] },
      ]);
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['read', 'write', 'notify']);
      run.do(startStep('last'));
      run.do({ type: 'FailStep', data: { step: 'last', attempt: 1, error: 'x', at: at(1), jitter: 0, retryable: false } });
      expect(drive(run)).toEqual(['undo write']);
      expect(run.state.steps.read.status).toBe('SUCCEEDED');
      expect(run.state.steps.notify.status).toBe('SUCCEEDED');
      expect(run.state.steps.write.status).toBe('COMPENSATED');
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('refuses to compensate out of order', () => {
      const plan = workflow([{ id: 'a', compensation: withUndo }, { id: 'b', dependsOn: ['a'], compensation: withUndo }, { id: 'c', dependsOn: ['b'] }]);
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a', 'b']);
      run.do(startStep('c'));
      run.do({ type: 'FailStep', data: { step: 'c', attempt: 1, error: 'x', at: at(1), jitter: 0, retryable: false } });
      given(run.events).when(startComp('a')).thenThrows('STEP_NOT_COMPENSABLE');
      run.do(startComp('b'));
      // one at a time
      given(run.events).when(startComp('b')).thenThrows('STEP_NOT_COMPENSABLE');
    });
  });

  describe('failing compensations and operators', () => {
    const plan = workflow([
      { id: 'a', compensation: withUndo },
      { id: 'b', dependsOn: ['a'], compensation: withUndo },
      { id: 'c', dependsOn: ['b'] },
    ]);

    /** a and b succeeded, c failed for good: b is the first to undo. */
    function compensating(): SagaRun {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a', 'b']);
      run.do(startStep('c'));
      run.do({ type: 'FailStep', data: { step: 'c', attempt: 1, error: 'x', at: at(0), jitter: 0, retryable: false } });
      return run;
    }

    /** b's compensation failed five times: COMPENSATION_FAILED. */
    function stuck(): SagaRun {
      const run = compensating();
      let now = 0;
      for (let attempt = 1; attempt <= 5; attempt++) {
        run.do(startComp('b', now));
        const [failed] = run.do(compFail('b', attempt, now, `down ${attempt}`, 0));
        if (failed.type !== 'StepCompensationFailed') throw new Error('expected StepCompensationFailed');
        if (failed.data.retryAt) now = Date.parse(failed.data.retryAt) - T0;
      }
      return run;
    }

    it('retries a failing compensation with backoff', () => {
      const run = compensating();
      run.do(startComp('b', 0));
      given(run.events)
        .when(compFail('b', 1, 10, 'down', 0))
        .then([{ type: 'StepCompensationFailed', data: { step: 'b', attempt: 1, error: 'down', final: false, retryAt: at(110), at: at(10) } }]);
      run.do(compFail('b', 1, 10, 'down', 0));
      expect(nextWork(run.state, new Date(T0 + 50))).toEqual({ actions: [], nextDueAt: at(110) });
      given(run.events).when(startComp('b', 50)).thenThrows('STEP_NOT_COMPENSABLE');
      expect(nextWork(run.state, new Date(T0 + 110)).actions).toEqual([{ kind: 'compensate-step', step: 'b' }]);
      expect(run.do(startComp('b', 110))).toEqual([
        { type: 'StepCompensationStarted', data: { step: 'b', attempt: 2, at: at(110), timeoutAt: at(30_110) } },
      ]);
      run.do(compOk('b', 2, 120));
      expect(run.state.steps.b.status).toBe('COMPENSATED');
    });

    it('parks the saga in COMPENSATION_FAILED after the last attempt', () => {
      const run = compensating();
      let now = 0;
      for (let attempt = 1; attempt <= 4; attempt++) {
        run.do(startComp('b', now));
        const [failed] = run.do(compFail('b', attempt, now));
        if (failed.type !== 'StepCompensationFailed' || !failed.data.retryAt) throw new Error('expected a retry');
        now = Date.parse(failed.data.retryAt) - T0;
      }
      run.do(startComp('b', now));
      given(run.events)
        .when(compFail('b', 5, now, 'still down'))
        .then([
          { type: 'StepCompensationFailed', data: { step: 'b', attempt: 5, error: 'still down', final: true, at: at(now) } },
          { type: 'SagaCompensationFailed', data: { step: 'b', error: 'still down', at: at(now) } },
        ]);
      const s = stuck().state;
      expect(s.status).toBe('COMPENSATION_FAILED');
      expect(s.steps.b.status).toBe('COMPENSATION_FAILED');
      expect(s.steps.a.status).toBe('SUCCEEDED');
      expect(nextWork(s, new Date(T0 + 10 ** 9))).toEqual({ actions: [] });
      expect(s.compensations.filter((e) => e.status === 'FAILED')).toHaveLength(5);
    });

    it('operator retry gives the stuck step a fresh set of attempts and compensation completes', () => {
      const run = stuck();
      given(run.events)
        .when({ type: 'RetryCompensation', data: { actor: 'ops@acme', reason: 'service back', at: at(99_000) } })
        .then([{ type: 'CompensationRetried', data: { actor: 'ops@acme', reason: 'service back', at: at(99_000) } }]);
      run.do({ type: 'RetryCompensation', data: { actor: 'ops@acme', reason: 'service back', at: at(99_000) } });
      expect(run.state.status).toBe('COMPENSATING');
      expect(run.state.steps.b).toMatchObject({ compensationAttempts: 0, compensationRound: 1 });
      expect(run.do(startComp('b', 99_001))[0]).toMatchObject({ data: { attempt: 1 } });
      run.do(compFail('b', 1, 99_002)); // fresh attempts: not final
      expect(run.state.status).toBe('COMPENSATING');
      expect(drive(run, 200_000)).toEqual(['undo b', 'undo a']);
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('skip is logged with actor and reason and compensation goes on', () => {
      const run = stuck();
      given(run.events)
        .when({ type: 'SkipCompensation', data: { step: 'b', actor: 'ops@acme', reason: 'undone by hand', at: at(99_000) } })
        .then([{ type: 'CompensationSkipped', data: { step: 'b', actor: 'ops@acme', reason: 'undone by hand', at: at(99_000) } }]);
      run.do({ type: 'SkipCompensation', data: { step: 'b', actor: 'ops@acme', reason: 'undone by hand', at: at(99_000) } });
      expect(run.state.steps.b.status).toBe('SKIPPED');
      expect(run.state.status).toBe('COMPENSATING');
      expect(run.state.compensations[run.state.compensations.length - 1]).toEqual({
        step: 'b',
        status: 'SKIPPED',
        attempt: 5,
        actor: 'ops@acme',
        reason: 'undone by hand',
        at: at(99_000),
      });
      expect(drive(run, 99_000)).toEqual(['undo a']);
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('skipping the last stuck step finishes the compensation at once', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      run.do(startStep('b'));
      run.do({ type: 'FailStep', data: { step: 'b', attempt: 1, error: 'x', at: at(0), jitter: 0, retryable: false } });
      run.do(startComp('a'));
      run.do({ type: 'FailStepCompensation', data: { step: 'a', attempt: 1, error: 'gone', at: at(1), jitter: 0, retryable: false } });
      expect(run.state.status).toBe('COMPENSATION_FAILED');
      given(run.events)
        .when({ type: 'SkipCompensation', data: { step: 'a', actor: 'ops', reason: 'manual', at: at(2) } })
        .then([
          { type: 'CompensationSkipped', data: { step: 'a', actor: 'ops', reason: 'manual', at: at(2) } },
          { type: 'SagaCompensated', data: { at: at(2) } },
        ]);
    });

    it('refuses to skip a step that is not the stuck one', () => {
      given(stuck().events)
        .when({ type: 'SkipCompensation', data: { step: 'a', actor: 'ops', reason: 'r', at: at(1) } })
        .thenThrows('STEP_NOT_STUCK');
    });

    it('refuses retry and skip unless COMPENSATION_FAILED', () => {
      const running = new SagaRun(sagaStarted(plan)).events;
      const compensatingEvents = compensating().events;
      const retry: SagaCommand = { type: 'RetryCompensation', data: { actor: 'ops', at: at(1) } };
      const skip: SagaCommand = { type: 'SkipCompensation', data: { step: 'b', actor: 'ops', reason: 'r', at: at(1) } };
      given(running).when(retry).thenThrows('SAGA_NOT_STUCK');
      given(compensatingEvents).when(retry).thenThrows('SAGA_NOT_STUCK');
      given(running).when(skip).thenThrows('SAGA_NOT_STUCK');
      given(compensatingEvents).when(skip).thenThrows('SAGA_NOT_STUCK');
    });
  });

  describe('cancel', () => {
    const plan = workflow([{ id: 'a', compensation: withUndo }, { id: 'b', dependsOn: ['a'], compensation: withUndo }]);

    it('cancels a RUNNING saga and compensates what completed', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      given(run.events)
        .when({ type: 'CancelSaga', data: { actor: 'ops@acme', reason: 'customer left', at: at(5) } })
        .then([
          { type: 'SagaCancelRequested', data: { actor: 'ops@acme', reason: 'customer left', at: at(5) } },
          { type: 'CompensationStarted', data: { reason: 'customer left', actor: 'ops@acme', at: at(5) } },
        ]);
      run.do({ type: 'CancelSaga', data: { actor: 'ops@acme', reason: 'customer left', at: at(5) } });
      expect(run.state.cancelRequested).toEqual({ actor: 'ops@acme', reason: 'customer left', at: at(5) });
      expect(drive(run, 10)).toEqual(['undo a']);
      expect(run.state.status).toBe('COMPENSATED');
      expect(run.state.steps.b.status).toBe('PENDING');
    });

    it('is compensated at once when nothing completed and nothing runs', () => {
      given(sagaStarted(plan))
        .when({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(1) } })
        .then([
          { type: 'SagaCancelRequested', data: { actor: 'ops', reason: 'r', at: at(1) } },
          { type: 'CompensationStarted', data: { reason: 'r', actor: 'ops', at: at(1) } },
          { type: 'SagaCompensated', data: { at: at(1), rolledBack: true } },
        ]);
    });

    it('forgets a scheduled retry when cancelled', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      run.do(fail('a', 1, 1));
      expect(run.state.steps.a.nextAttemptDueAt).toBeDefined();
      run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(2) } });
      expect(run.state.status).toBe('COMPENSATED');
      expect(run.state.steps.a.nextAttemptDueAt).toBeUndefined();
    });

    it('waits for a step in flight before finishing', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      expect(run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(1) } }).map((e) => e.type)).toEqual([
        'SagaCancelRequested',
        'CompensationStarted',
      ]);
      run.do(succeed('a', 1, 2));
      expect(run.state.status).toBe('COMPENSATING');
      expect(drive(run, 3)).toEqual(['undo a']);
      expect(run.state.status).toBe('COMPENSATED');
    });

    it('finishes when a step in flight that has nothing to undo succeeds after the cancel', () => {
      const readOnly = workflow([{ id: 'lookup' }, { id: 'write', dependsOn: ['lookup'], compensation: withUndo }]);
      const run = new SagaRun(sagaStarted(readOnly));
      run.do(startStep('lookup'));
      run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(1) } });
      given(run.events)
        .when(succeed('lookup', 1, 2))
        .then([
          { type: 'StepSucceeded', data: { step: 'lookup', attempt: 1, at: at(2) } },
          { type: 'SagaCompensated', data: { at: at(2), rolledBack: true } },
        ]);
    });

    it('refuses to cancel a saga that is not RUNNING', () => {
      const done = new SagaRun(sagaStarted(plan));
      runSteps(done, ['a', 'b']);
      const cancel: SagaCommand = { type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(9) } };
      given(done.events).when(cancel).thenThrows('SAGA_NOT_RUNNING');
      const compensating = new SagaRun(sagaStarted(plan));
      compensating.do(startStep('a'));
      compensating.do(cancel);
      given(compensating.events).when(cancel).thenThrows('SAGA_NOT_RUNNING');
    });
  });

  describe('stale and duplicate outcomes', () => {
    const plan = workflow([{ id: 'a', compensation: withUndo }, { id: 'b', dependsOn: ['a'] }]);

    it('ignores an outcome of an earlier attempt', () => {
      const run = new SagaRun(sagaStarted(plan));
      run.do(startStep('a'));
      run.do(fail('a', 1, 1));
      run.do(startStep('a', 10_000));
      given(run.events).when(succeed('a', 1, 10_001)).thenNothing();
      given(run.events).when(fail('a', 1, 10_001)).thenNothing();
    });

    it('ignores a duplicate success and a late failure of a finished step', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      given(run.events).when(succeed('a', 1, 5)).thenNothing();
      given(run.events).when(fail('a', 1, 5)).thenNothing();
    });

    it('ignores an outcome for a step that never started', () => {
      given(sagaStarted(plan)).when(succeed('b', 1)).thenNothing();
    });

    it('ignores stale compensation outcomes', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      run.do({ type: 'CancelSaga', data: { actor: 'ops', reason: 'r', at: at(1) } });
      run.do(startComp('a', 2));
      run.do(compFail('a', 1, 3));
      given(run.events).when(compOk('a', 1, 4)).thenNothing();
      given(run.events).when(compFail('a', 1, 4)).thenNothing();
      run.do(startComp('a', 10_000));
      run.do(compOk('a', 2, 10_001));
      given(run.events).when(compOk('a', 2, 10_002)).thenNothing();
    });

    it('ignores outcomes after the saga finished', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a', 'b']);
      given(run.events).when(succeed('b', 1, 9)).thenNothing();
    });
  });

  describe('FinishCompensation', () => {
    const plan = workflow([{ id: 'a', compensation: withUndo }]);
    it('closes a compensating saga that has nothing left (robustness)', () => {
      // A history where SagaCompensated was not written after the last compensation.
      const events: SagaEvent[] = [
        sagaStarted(plan),
        { type: 'StepStarted', data: { step: 'a', attempt: 1, at: at(0), timeoutAt: at(30_000) } },
        { type: 'StepSucceeded', data: { step: 'a', attempt: 1, at: at(1) } },
        { type: 'CompensationStarted', data: { reason: 'r', at: at(2) } },
        { type: 'StepCompensationStarted', data: { step: 'a', attempt: 1, at: at(3), timeoutAt: at(30_003) } },
        { type: 'StepCompensated', data: { step: 'a', attempt: 1, at: at(4) } },
      ];
      expect(nextWork(given(events).state, new Date(T0 + 5)).actions).toEqual([{ kind: 'finish-compensation' }]);
      given(events)
        .when({ type: 'FinishCompensation', data: { at: at(5) } })
        .then([{ type: 'SagaCompensated', data: { at: at(5) } }]);
    });
    it('refuses while work is left', () => {
      const run = new SagaRun(sagaStarted(plan));
      runSteps(run, ['a']);
      given(run.events).when({ type: 'FinishCompensation', data: { at: at(5) } }).thenThrows('COMPENSATION_NOT_FINISHED');
    });
  });
});
