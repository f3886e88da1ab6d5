import { backoffDelayMs } from './retry';
import {
  CancelSaga,
  FailStep,
  FailStepCompensation,
  FinishCompensation,
  RetryCompensation,
  SagaCommand,
  SkipCompensation,
  StartSaga,
  StartStep,
  StartStepCompensation,
  SucceedStep,
  SucceedStepCompensation,
} from './saga.commands';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import {
  CompensationEntry,
  SagaState,
  SagaStepState,
  initialSagaState,
  isCompensationDone,
  isCompensationInFlight,
  nextStepToCompensate,
  runningSteps,
  stepPlanOf,
} from './saga.state';
import { SAGA_TYPES, SagaPlan, StepPlan } from './saga.types';
import { addMs, toIso } from './time';

// ---------------------------------------------------------------------------------------------
// evolve
// ---------------------------------------------------------------------------------------------

function patchStep(state: SagaState, step: string, patch: Partial<SagaStepState>): SagaState {
  const current = state.steps[step];
  if (!current) return state;
  return { ...state, steps: { ...state.steps, [step]: { ...current, ...patch } } };
}

function logCompensation(state: SagaState, entry: CompensationEntry): SagaState {
  return { ...state, compensations: [...state.compensations, entry] };
}

/** Folds one saga event into the state. Unknown event types leave the state as it is. */
export function evolve(state: SagaState, event: SagaEvent): SagaState {
  const s = applyEvent(state, event);
  const at = (event.data as { at?: string } | undefined)?.at;
  return s === state || at === undefined ? s : { ...s, updatedAt: at };
}

function applyEvent(state: SagaState, event: SagaEvent): SagaState {
  switch (event.type) {
    case 'SagaStarted': {
      const d = event.data;
      const steps: Record<string, SagaStepState> = {};
      for (const p of d.plan.steps) {
        steps[p.name] = { status: 'PENDING', attempts: 0, compensationAttempts: 0, compensationRound: 0 };
      }
      return {
        ...initialSagaState(),
        status: 'RUNNING',
        sagaId: d.sagaId,
        tenantId: d.tenantId,
        sagaType: d.sagaType,
        input: d.input,
        plan: d.plan,
        ...(d.idempotencyKey !== undefined ? { idempotencyKey: d.idempotencyKey } : {}),
        ...(d.correlationId !== undefined ? { correlationId: d.correlationId } : {}),
        steps,
        startedAt: d.at,
      };
    }
    case 'StepStarted': {
      const d = event.data;
      const prev = state.steps[d.step];
      return patchStep(state, d.step, {
        status: 'RUNNING',
        attempts: d.attempt,
        startedAt: prev?.startedAt ?? d.at,
        finishedAt: undefined,
        timeoutAt: d.timeoutAt,
        nextAttemptDueAt: undefined,
      });
    }
    case 'StepSucceeded': {
      const d = event.data;
      const s = patchStep(state, d.step, {
        status: 'SUCCEEDED',
        output: d.output,
        error: undefined,
        finishedAt: d.at,
        timeoutAt: undefined,
        nextAttemptDueAt: undefined,
      });
      return s.completionOrder.includes(d.step) ? s : { ...s, completionOrder: [...s.completionOrder, d.step] };
    }
    case 'StepFailed': {
      const d = event.data;
      return patchStep(state, d.step, {
        status: 'FAILED',
        error: d.error,
        timeoutAt: undefined,
        nextAttemptDueAt: undefined,
        finishedAt: d.final ? d.at : undefined,
      });
    }
    case 'StepRetryScheduled':
      return patchStep(state, event.data.step, { nextAttemptDueAt: event.data.dueAt });
    case 'CompensationStarted': {
      const d = event.data;
      // Retries scheduled before compensation began will never run: forget them.
      const steps: Record<string, SagaStepState> = {};
      for (const [name, st] of Object.entries(state.steps)) {
        steps[name] = st.status === 'FAILED' && st.nextAttemptDueAt !== undefined ? { ...st, nextAttemptDueAt: undefined } : st;
      }
      return {
        ...state,
        status: 'COMPENSATING',
        steps,
        compensationReason: d.reason,
        ...(d.failedStep !== undefined ? { failedStep: d.failedStep } : {}),
      };
    }
    case 'StepCompensationStarted': {
      const d = event.data;
      const s = patchStep(state, d.step, {
        status: 'COMPENSATING',
        compensationAttempts: d.attempt,
        timeoutAt: d.timeoutAt,
        nextAttemptDueAt: undefined,
        finishedAt: undefined,
      });
      return logCompensation(s, { step: d.step, status: 'STARTED', attempt: d.attempt, at: d.at });
    }
    case 'StepCompensated': {
      const d = event.data;
      const s = patchStep(state, d.step, {
        status: 'COMPENSATED',
        error: undefined,
        timeoutAt: undefined,
        nextAttemptDueAt: undefined,
        finishedAt: d.at,
      });
      return logCompensation(s, { step: d.step, status: 'SUCCEEDED', attempt: d.attempt, at: d.at });
    }
    case 'StepCompensationFailed': {
      const d = event.data;
      const s = patchStep(state, d.step, {
        status: d.final ? 'COMPENSATION_FAILED' : 'COMPENSATING',
        error: d.error,
        timeoutAt: undefined,
        nextAttemptDueAt: d.final ? undefined : d.retryAt,
        finishedAt: d.final ? d.at : undefined,
      });
      return logCompensation(s, { step: d.step, status: 'FAILED', attempt: d.attempt, error: d.error, at: d.at });
    }
    case 'SagaCompleted':
      return { ...state, status: 'COMPLETED', finishedAt: event.data.at };
    case 'SagaCompensated':
      return { ...state, status: 'COMPENSATED', finishedAt: event.data.at };
    case 'SagaCompensationFailed': {
      const d = event.data;
      const s = patchStep(state, d.step, { status: 'COMPENSATION_FAILED', error: d.error, timeoutAt: undefined, nextAttemptDueAt: undefined });
      return { ...s, status: 'COMPENSATION_FAILED', stuckStep: d.step };
    }
    case 'CompensationRetried': {
      const stuck = state.stuckStep;
      let s: SagaState = { ...state, status: 'COMPENSATING', stuckStep: undefined };
      if (stuck && s.steps[stuck]) {
        s = patchStep(s, stuck, {
          status: 'COMPENSATING',
          compensationAttempts: 0,
          compensationRound: s.steps[stuck].compensationRound + 1,
          timeoutAt: undefined,
          nextAttemptDueAt: undefined,
          finishedAt: undefined,
        });
      }
      return s;
    }
    case 'CompensationSkipped': {
      const d = event.data;
      const attempt = state.steps[d.step]?.compensationAttempts ?? 0;
      const s = patchStep(state, d.step, { status: 'SKIPPED', timeoutAt: undefined, nextAttemptDueAt: undefined, finishedAt: d.at });
      return logCompensation(
        { ...s, status: 'COMPENSATING', stuckStep: undefined },
        { step: d.step, status: 'SKIPPED', attempt, actor: d.actor, reason: d.reason, at: d.at },
      );
    }
    case 'SagaCancelRequested':
      return { ...state, cancelRequested: { actor: event.data.actor, reason: event.data.reason, at: event.data.at } };
    default:
      return state;
  }
}

/** The state after `events`, from the initial state. */
export function foldSagaEvents(events: readonly SagaEvent[], from: SagaState = initialSagaState()): SagaState {
  return events.reduce(evolve, from);
}

// ---------------------------------------------------------------------------------------------
// decide
// ---------------------------------------------------------------------------------------------

/** Turns a command into the events it causes, or throws a SagaError when the state refuses it. */
export function decide(command: SagaCommand, state: SagaState): SagaEvent[] {
  if (command.type === 'StartSaga') return startSaga(command, state);
  if (state.status === 'NOT_STARTED') {
    throw new SagaError('SAGA_NOT_FOUND', `saga has not been started`);
  }
  switch (command.type) {
    case 'StartStep':
      return startStep(command, state);
    case 'SucceedStep':
      return succeedStep(command, state);
    case 'FailStep':
      return failStep(command, state);
    case 'StartStepCompensation':
      return startStepCompensation(command, state);
    case 'SucceedStepCompensation':
      return succeedStepCompensation(command, state);
    case 'FailStepCompensation':
      return failStepCompensation(command, state);
    case 'FinishCompensation':
      return finishCompensation(command, state);
    case 'RetryCompensation':
      return retryCompensation(command, state);
    case 'SkipCompensation':
      return skipCompensation(command, state);
    case 'CancelSaga':
      return cancelSaga(command, state);
    default: {
      const unknown: { type?: unknown } = command;
      throw new SagaError('INVALID_COMMAND', `unknown saga command ${String(unknown.type)}`);
    }
  }
}

export const sagaDecider = {
  initialState: initialSagaState,
  evolve,
  decide,
};

/** Appends to `events` the SagaCompensated that follows when compensation has nothing left. */
function withCompensationFinished(state: SagaState, events: SagaEvent[], at: string): SagaEvent[] {
  const after = foldSagaEvents(events, state);
  if (after.status === 'COMPENSATING' && isCompensationDone(after)) {
    return [...events, { type: 'SagaCompensated', data: { at } }];
  }
  return events;
}

function requireStep(state: SagaState, step: string): StepPlan {
  const plan = stepPlanOf(state, step);
  if (!plan) throw new SagaError('UNKNOWN_STEP', `saga has no step ${step}`, { step });
  return plan;
}

export function validatePlan(plan: SagaPlan): string[] {
  const problems: string[] = [];
  if (!plan || !Array.isArray(plan.steps)) return ['plan.steps must be an array'];
  if (!SAGA_TYPES.includes(plan.sagaType)) problems.push(`unknown saga type ${String(plan.sagaType)}`);
  if (!Number.isInteger(plan.maxParallel) || plan.maxParallel < 1) problems.push('maxParallel must be a positive integer');
  if (plan.steps.length === 0) problems.push('plan has no steps');
  const names = new Set<string>();
  for (const step of plan.steps) {
    if (typeof step.name !== 'string' || step.name === '') problems.push('step without a name');
    else if (names.has(step.name)) problems.push(`duplicate step ${step.name}`);
    names.add(step.name);
    if (!(step.timeoutMs > 0)) problems.push(`step ${step.name}: timeoutMs must be positive`);
    if (!(step.retry?.maxAttempts >= 1)) problems.push(`step ${step.name}: retry.maxAttempts must be at least 1`);
    if (step.compensation) {
      if (!(step.compensation.timeoutMs > 0)) problems.push(`step ${step.name}: compensation.timeoutMs must be positive`);
      if (!(step.compensation.retry?.maxAttempts >= 1)) {
        problems.push(`step ${step.name}: compensation.retry.maxAttempts must be at least 1`);
      }
    }
  }
  for (const step of plan.steps) {
    for (const dep of step.dependsOn ?? []) {
      if (!names.has(dep)) problems.push(`step ${step.name} depends on unknown step ${dep}`);
    }
  }
  return problems;
}

function startSaga(command: StartSaga, state: SagaState): SagaEvent[] {
  if (state.status !== 'NOT_STARTED') {
    throw new SagaError('SAGA_EXISTS', `saga ${state.sagaId} already started`, { sagaId: state.sagaId });
  }
  const d = command.data;
  const problems = validatePlan(d.plan);
  if (problems.length > 0) throw new SagaError('INVALID_PLAN', problems.join('; '), { problems });
  if (d.plan.sagaType !== d.sagaType) {
    throw new SagaError('INVALID_PLAN', `plan is for ${d.plan.sagaType}, saga is ${d.sagaType}`);
  }
  return [
    {
      type: 'SagaStarted',
      data: {
        sagaId: d.sagaId,
        tenantId: d.tenantId,
        sagaType: d.sagaType,
        input: d.input,
        plan: d.plan,
        ...(d.idempotencyKey !== undefined ? { idempotencyKey: d.idempotencyKey } : {}),
        ...(d.correlationId ? { correlationId: d.correlationId } : {}),
        at: toIso(d.at),
      },
    },
  ];
}

/** Why `step` cannot start at `at`, or undefined when it can. */
export function whyNotStartable(state: SagaState, step: string, atMs: number): string | undefined {
  const plan = stepPlanOf(state, step);
  if (!plan) return `unknown step ${step}`;
  if (state.status !== 'RUNNING') return `saga is ${state.status}`;
  const st = state.steps[step];
  if (st.status === 'FAILED') {
    if (st.nextAttemptDueAt === undefined) return `step ${step} failed for good`;
    if (atMs < Date.parse(st.nextAttemptDueAt)) return `retry of ${step} is due at ${st.nextAttemptDueAt}`;
  } else if (st.status !== 'PENDING') {
    return `step ${step} is ${st.status}`;
  }
  const missing = plan.dependsOn.filter((d) => state.steps[d]?.status !== 'SUCCEEDED');
  if (missing.length > 0) return `step ${step} waits for ${missing.join(', ')}`;
  if (runningSteps(state).length >= state.plan.maxParallel) return `${state.plan.maxParallel} steps already running`;
  return undefined;
}

function startStep(command: StartStep, state: SagaState): SagaEvent[] {
  const { step } = command.data;
  const plan = requireStep(state, step);
  const at = toIso(command.data.at);
  const why = whyNotStartable(state, step, Date.parse(at));
  if (why) throw new SagaError('STEP_NOT_STARTABLE', why, { step });
  return [
    {
      type: 'StepStarted',
      data: { step, attempt: state.steps[step].attempts + 1, at, timeoutAt: addMs(at, plan.timeoutMs) },
    },
  ];
}

function isCurrentAttempt(state: SagaState, step: string, attempt: number): boolean {
  const st = state.steps[step];
  return st.status === 'RUNNING' && st.attempts === attempt;
}

function succeedStep(command: SucceedStep, state: SagaState): SagaEvent[] {
  const { step, attempt } = command.data;
  requireStep(state, step);
  if (!isCurrentAttempt(state, step, attempt)) return [];
  const at = toIso(command.data.at);
  const events: SagaEvent[] = [
    {
      type: 'StepSucceeded',
      data: { step, attempt, ...(command.data.output !== undefined ? { output: command.data.output } : {}), at },
    },
  ];
  if (state.status === 'RUNNING') {
    const after = foldSagaEvents(events, state);
    const done = Object.values(after.steps).every((s) => s.status === 'SUCCEEDED' || s.status === 'SKIPPED');
    return done ? [...events, { type: 'SagaCompleted', data: { at } }] : events;
  }
  return withCompensationFinished(state, events, at);
}

function failStep(command: FailStep, state: SagaState): SagaEvent[] {
  const { step, attempt, error } = command.data;
  const plan = requireStep(state, step);
  if (!isCurrentAttempt(state, step, attempt)) return [];
  const at = toIso(command.data.at);
  const retryable = command.data.retryable !== false;
  if (state.status === 'RUNNING' && retryable && attempt < plan.retry.maxAttempts) {
    const delayMs = backoffDelayMs(plan.retry, attempt, command.data.jitter);
    return [
      { type: 'StepFailed', data: { step, attempt, error, final: false, at } },
      { type: 'StepRetryScheduled', data: { step, nextAttempt: attempt + 1, dueAt: addMs(at, delayMs), delayMs, at } },
    ];
  }
  const events: SagaEvent[] = [{ type: 'StepFailed', data: { step, attempt, error, final: true, at } }];
  if (state.status === 'RUNNING') {
    events.push({ type: 'CompensationStarted', data: { reason: `step ${step} failed: ${error}`, failedStep: step, at } });
  }
  return withCompensationFinished(state, events, at);
}

function startStepCompensation(command: StartStepCompensation, state: SagaState): SagaEvent[] {
  const { step } = command.data;
  requireStep(state, step);
  const at = toIso(command.data.at);
  const refuse = (why: string) => new SagaError('STEP_NOT_COMPENSABLE', why, { step });
  if (state.status !== 'COMPENSATING') throw refuse(`saga is ${state.status}`);
  const running = runningSteps(state);
  if (running.length > 0) throw refuse(`steps still running: ${running.join(', ')}`);
  const next = nextStepToCompensate(state);
  if (next !== step) throw refuse(next ? `${next} must be compensated first` : `nothing left to compensate`);
  const st = state.steps[step];
  if (isCompensationInFlight(st)) throw refuse(`compensation of ${step} is already running`);
  if (st.nextAttemptDueAt !== undefined && Date.parse(at) < Date.parse(st.nextAttemptDueAt)) {
    throw refuse(`compensation retry of ${step} is due at ${st.nextAttemptDueAt}`);
  }
  const plan = stepPlanOf(state, step)!;
  return [
    {
      type: 'StepCompensationStarted',
      data: { step, attempt: st.compensationAttempts + 1, at, timeoutAt: addMs(at, plan.compensation!.timeoutMs) },
    },
  ];
}

function isCurrentCompensation(state: SagaState, step: string, attempt: number): boolean {
  const st = state.steps[step];
  return state.status === 'COMPENSATING' && isCompensationInFlight(st) && st.compensationAttempts === attempt;
}

function succeedStepCompensation(command: SucceedStepCompensation, state: SagaState): SagaEvent[] {
  const { step, attempt } = command.data;
  requireStep(state, step);
  if (!isCurrentCompensation(state, step, attempt)) return [];
  const at = toIso(command.data.at);
  return withCompensationFinished(state, [{ type: 'StepCompensated', data: { step, attempt, at } }], at);
}

function failStepCompensation(command: FailStepCompensation, state: SagaState): SagaEvent[] {
  const { step, attempt, error } = command.data;
  const plan = requireStep(state, step);
  if (!isCurrentCompensation(state, step, attempt)) return [];
  const at = toIso(command.data.at);
  const retry = plan.compensation!.retry;
  if (command.data.retryable !== false && attempt < retry.maxAttempts) {
    const retryAt = addMs(at, backoffDelayMs(retry, attempt, command.data.jitter));
    return [{ type: 'StepCompensationFailed', data: { step, attempt, error, final: false, retryAt, at } }];
  }
  return [
    { type: 'StepCompensationFailed', data: { step, attempt, error, final: true, at } },
    { type: 'SagaCompensationFailed', data: { step, error, at } },
  ];
}

function finishCompensation(command: FinishCompensation, state: SagaState): SagaEvent[] {
  if (state.status !== 'COMPENSATING' || !isCompensationDone(state)) {
    throw new SagaError('COMPENSATION_NOT_FINISHED', `saga is ${state.status} with compensation work left`);
  }
  return [{ type: 'SagaCompensated', data: { at: toIso(command.data.at) } }];
}

function retryCompensation(command: RetryCompensation, state: SagaState): SagaEvent[] {
  if (state.status !== 'COMPENSATION_FAILED') {
    throw new SagaError('SAGA_NOT_STUCK', `saga is ${state.status}, not COMPENSATION_FAILED`, { status: state.status });
  }
  const { actor, reason } = command.data;
  return [{ type: 'CompensationRetried', data: { actor, ...(reason !== undefined ? { reason } : {}), at: toIso(command.data.at) } }];
}

function skipCompensation(command: SkipCompensation, state: SagaState): SagaEvent[] {
  if (state.status !== 'COMPENSATION_FAILED') {
    throw new SagaError('SAGA_NOT_STUCK', `saga is ${state.status}, not COMPENSATION_FAILED`, { status: state.status });
  }
  const { step, actor, reason } = command.data;
  if (step !== state.stuckStep) {
    throw new SagaError('STEP_NOT_STUCK', `the stuck step is ${state.stuckStep}, not ${step}`, {
      step,
      stuckStep: state.stuckStep,
    });
  }
  const at = toIso(command.data.at);
  return withCompensationFinished(state, [{ type: 'CompensationSkipped', data: { step, actor, reason, at } }], at);
}

function cancelSaga(command: CancelSaga, state: SagaState): SagaEvent[] {
  if (state.status !== 'RUNNING') {
    throw new SagaError('SAGA_NOT_RUNNING', `saga is ${state.status}, not RUNNING`, { status: state.status });
  }
  const { actor, reason } = command.data;
  const at = toIso(command.data.at);
  return withCompensationFinished(
    state,
    [
      { type: 'SagaCancelRequested', data: { actor, reason, at } },
      { type: 'CompensationStarted', data: { reason, actor, at } },
    ],
    at,
  );
}
