import {
  SagaState,
  dependenciesSucceeded,
  isCompensationDone,
  isCompensationInFlight,
  nextStepToCompensate,
  pendingSignal,
  runningSteps,
} from './saga.state';

export type SagaAction =
  /** Start a PENDING step whose dependencies succeeded: decide StartStep. */
  | { kind: 'start-step'; step: string }
  /** Start the next attempt of a FAILED step whose retry is due: decide StartStep. */
  | { kind: 'retry-step'; step: string }
  /**
   * An attempt (`phase: 'step'`, decide FailStep) or a compensation attempt
   * (`phase: 'compensation'`, decide FailStepCompensation) outlived its timeout.
   */
  | { kind: 'timeout-step'; step: string; attempt: number; phase: 'step' | 'compensation'; timeoutMs: number }
  /**
   * An external step (an agent's task) still running in a saga that stopped running: decide
   * FailStep (CANCELLED) at once, so compensation need not wait for the agent.
   */
  | { kind: 'cancel-step'; step: string; attempt: number }
  /** A `wait` step running while a signal of its name waits: decide SucceedStep with its payload. */
  | { kind: 'deliver-signal'; step: string; attempt: number; signalId: string; payload?: unknown }
  /** Run the compensation of `step`: decide StartStepCompensation. */
  | { kind: 'compensate-step'; step: string }
  /** Nothing is left to undo: decide FinishCompensation. */
  | { kind: 'finish-compensation' };

export interface NextWork {
  actions: SagaAction[];
  /** The earliest future time at which something becomes due (wake the saga up then). */
  nextDueAt?: string;
}

/**
 * What is due for a saga at `now`. Pure: the executor turns each action into a command for
 * `decide`, so a stale action (another worker was faster) is refused or ignored there.
 */
export function nextWork(state: SagaState, now: Date): NextWork {
  const nowMs = now.getTime();
  const actions: SagaAction[] = [];
  let nextDueMs: number | undefined;
  const consider = (iso: string | undefined): boolean => {
    if (iso === undefined) return false;
    const ms = Date.parse(iso);
    if (ms <= nowMs) return true;
    if (nextDueMs === undefined || ms < nextDueMs) nextDueMs = ms;
    return false;
  };
  const result = (): NextWork =>
    nextDueMs === undefined ? { actions } : { actions, nextDueAt: new Date(nextDueMs).toISOString() };

  if (state.status === 'SCHEDULED') {
    // Nothing runs before its start time; from then on it is planned like a running saga.
    if (!consider(state.startAt)) return result();
  } else if (state.status !== 'RUNNING' && state.status !== 'COMPENSATING' && state.status !== 'SUSPENDED') return { actions };

  const plan = state.plan;
  // Timeouts of attempts in flight (also while compensating: they must settle before undoing).
  for (const p of plan.steps) {
    const st = state.steps[p.name];
    if (st?.status === 'RUNNING' && consider(st.timeoutAt)) {
      actions.push({ kind: 'timeout-step', step: p.name, attempt: st.attempts, phase: 'step', timeoutMs: p.timeoutMs });
    } else if (isCompensationInFlight(st) && consider(st.timeoutAt)) {
      actions.push({
        kind: 'timeout-step',
        step: p.name,
        attempt: st.compensationAttempts,
        phase: 'compensation',
        timeoutMs: p.compensation?.timeoutMs ?? 0,
      });
    }
  }

  if (state.status === 'COMPENSATING') {
    for (const p of plan.steps) {
      const st = state.steps[p.name];
      if (p.external && st?.status === 'RUNNING') actions.push({ kind: 'cancel-step', step: p.name, attempt: st.attempts });
    }
  }

  // Suspended: attempts still in flight settle (their timeouts above); nothing new starts.
  if (state.status === 'SUSPENDED') return result();

  if (state.status === 'RUNNING' || state.status === 'SCHEDULED') {
    for (const p of plan.steps) {
      const st = state.steps[p.name];
      if (p.waitFor === undefined || st?.status !== 'RUNNING') continue;
      const signal = pendingSignal(state, p.waitFor);
      if (signal) actions.push({ kind: 'deliver-signal', step: p.name, attempt: st.attempts, signalId: signal.signalId, payload: signal.payload });
    }
    const ready: { kind: 'start-step' | 'retry-step'; step: string; priority: number; index: number }[] = [];
    plan.steps.forEach((p, index) => {
      const st = state.steps[p.name];
      if (!st || !dependenciesSucceeded(state, p)) return;
      if (st.status === 'PENDING') ready.push({ kind: 'start-step', step: p.name, priority: p.priority, index });
      else if (st.status === 'FAILED' && consider(st.nextAttemptDueAt)) {
        ready.push({ kind: 'retry-step', step: p.name, priority: p.priority, index });
      }
    });
    ready.sort((a, b) => b.priority - a.priority || a.index - b.index);
    const free = Math.max(0, plan.maxParallel - runningSteps(state).length);
    for (const r of ready.slice(0, free)) actions.push({ kind: r.kind, step: r.step });
    return result();
  }

  // COMPENSATING: strictly one compensation at a time, once nothing runs any more.
  if (runningSteps(state).length > 0) return result();
  if (isCompensationDone(state)) {
    actions.push({ kind: 'finish-compensation' });
    return result();
  }
  const next = nextStepToCompensate(state)!;
  const st = state.steps[next];
  if (isCompensationInFlight(st)) return result();
  if (st.nextAttemptDueAt === undefined || consider(st.nextAttemptDueAt)) {
    actions.push({ kind: 'compensate-step', step: next });
  }
  return result();
}
