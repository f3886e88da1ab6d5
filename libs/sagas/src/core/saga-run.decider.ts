import { backoffDelayMs } from './retry';
import { FailStep, StartStep, SucceedStep } from './saga.commands';
import { withCompensationFinished } from './saga-compensation.decider';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { foldSagaEvents } from './saga.evolve';
import { SagaState, requireStep, runningSteps, runsSteps, stepPlanOf } from './saga.state';
import { StepPlan, isAgentStep } from './saga.types';
import { addMs, toIso } from './time';

/** Why `step` cannot start at `at`, or undefined when it can. */
export function whyNotStartable(state: SagaState, step: string, atMs: number): string | undefined {
  const plan = stepPlanOf(state, step);
  if (!plan) return `unknown step ${step}`;
  if (!runsSteps(state, atMs)) {
    return state.status === 'SCHEDULED' ? `saga is scheduled for ${state.startAt}` : `saga is ${state.status}`;
  }
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

export function startStep(command: StartStep, state: SagaState): SagaEvent[] {
  const { step } = command.data;
  const plan = requireStep(state, step);
  const at = toIso(command.data.at);
  const why = whyNotStartable(state, step, Date.parse(at));
  if (why) throw new SagaError('STEP_NOT_STARTABLE', why, { step });
  return [
    {
      type: 'StepStarted',
      // An agent's task has no timeout from its start (its queue bounds each attempt from the lock).
      data: { step, attempt: state.steps[step].attempts + 1, at, ...(isAgentStep(plan) ? {} : { timeoutAt: addMs(at, plan.timeoutMs) }) },
    },
  ];
}

/**
 * The plan of the step whose attempt `data` reports, or undefined when that attempt is not the one
 * running (a late or repeated report, which changes nothing).
 */
function currentAttempt(state: SagaState, data: { step: string; attempt: number }): StepPlan | undefined {
  const plan = requireStep(state, data.step);
  const st = state.steps[data.step];
  return st.status === 'RUNNING' && st.attempts === data.attempt ? plan : undefined;
}

export function succeedStep(command: SucceedStep, state: SagaState): SagaEvent[] {
  const { step, attempt } = command.data;
  if (!currentAttempt(state, command.data)) return [];
  const at = toIso(command.data.at);
  const { output, signalId } = command.data;
  const events: SagaEvent[] = [
    {
      type: 'StepSucceeded',
      data: { step, attempt, ...(output !== undefined ? { output } : {}), ...(signalId !== undefined ? { signalId } : {}), at },
    },
  ];
  if (state.status === 'RUNNING') {
    const after = foldSagaEvents(events, state);
    const done = Object.values(after.steps).every((s) => s.status === 'SUCCEEDED' || s.status === 'SKIPPED');
    return done ? [...events, { type: 'SagaCompleted', data: { at } }] : events;
  }
  return withCompensationFinished(state, events, at);
}

export function failStep(command: FailStep, state: SagaState): SagaEvent[] {
  const { step, attempt, error } = command.data;
  const plan = currentAttempt(state, command.data);
  if (!plan) return [];
  const at = toIso(command.data.at);
  const code = command.data.code !== undefined ? { code: command.data.code } : {};
  const retryable = command.data.retryable !== false;
  // A resumed step's retry budget counts from the resume (attemptOffset).
  const attemptsUsed = attempt - (state.steps[step].attemptOffset ?? 0);
  if (state.status === 'RUNNING' && retryable && attemptsUsed < plan.retry.maxAttempts) {
    // Fresh attempts after a resume back off from the start again.
    const delayMs = backoffDelayMs(plan.retry, attemptsUsed, command.data.jitter);
    return [
      { type: 'StepFailed', data: { step, attempt, error, ...code, final: false, at } },
      { type: 'StepRetryScheduled', data: { step, nextAttempt: attempt + 1, dueAt: addMs(at, delayMs), delayMs, at } },
    ];
  }
  const events: SagaEvent[] = [{ type: 'StepFailed', data: { step, attempt, error, ...code, final: true, at } }];
  if (state.status === 'RUNNING' && state.onFailure === 'suspend') {
    // The operator decides: resume (with a corrected config) or compensate.
    events.push({ type: 'SagaSuspended', data: { step, error, at } });
  } else if (state.status === 'RUNNING') {
    events.push({ type: 'CompensationStarted', data: { reason: `step ${step} failed: ${error}`, failedStep: step, at } });
  }
  return withCompensationFinished(state, events, at);
}
