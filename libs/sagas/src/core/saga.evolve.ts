import { SagaEvent } from './saga.events';
import { CompensationEntry, SagaState, SagaStepState, initialSagaState } from './saga.state';
import { sagaIdentityOf } from './saga.types';

/** Clears what an attempt in flight or a pending retry leaves on a step. */
const SETTLED: Partial<SagaStepState> = { timeoutAt: undefined, nextAttemptDueAt: undefined };

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
      return { ...initialSagaState(), status: 'RUNNING', ...sagaIdentityOf(d), steps, startedAt: d.at };
    }
    case 'StepStarted': {
      const d = event.data;
      const prev = state.steps[d.step];
      const s = patchStep(state, d.step, {
        ...SETTLED,
        status: 'RUNNING',
        attempts: d.attempt,
        startedAt: prev?.startedAt ?? d.at,
        finishedAt: undefined,
        timeoutAt: d.timeoutAt,
      });
      // A scheduled saga runs from its first step on.
      return s.status === 'SCHEDULED' ? { ...s, status: 'RUNNING' } : s;
    }
    case 'StepSucceeded': {
      const d = event.data;
      let s = patchStep(state, d.step, { ...SETTLED, status: 'SUCCEEDED', output: d.output, error: undefined, errorCode: undefined, finishedAt: d.at });
      if (d.signalId !== undefined && s.signals) {
        s = { ...s, signals: s.signals.map((g) => (g.signalId === d.signalId && g.consumedBy === undefined ? { ...g, consumedBy: d.step } : g)) };
      }
      return s.completionOrder.includes(d.step) ? s : { ...s, completionOrder: [...s.completionOrder, d.step] };
    }
    case 'StepFailed': {
      const d = event.data;
      return patchStep(state, d.step, { ...SETTLED, status: 'FAILED', error: d.error, errorCode: d.code, finishedAt: d.final ? d.at : undefined });
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
        suspendedStep: undefined,
        ...(d.failedStep !== undefined ? { failedStep: d.failedStep } : {}),
        ...(d.actor !== undefined ? { compensationActor: d.actor } : {}),
      };
    }
    case 'StepCompensationStarted': {
      const d = event.data;
      const s = patchStep(state, d.step, {
        ...SETTLED,
        status: 'COMPENSATING',
        compensationAttempts: d.attempt,
        timeoutAt: d.timeoutAt,
        finishedAt: undefined,
      });
      return logCompensation(s, { step: d.step, status: 'STARTED', attempt: d.attempt, at: d.at });
    }
    case 'StepCompensated': {
      const d = event.data;
      const s = patchStep(state, d.step, { ...SETTLED, status: 'COMPENSATED', error: undefined, finishedAt: d.at });
      return logCompensation(s, { step: d.step, status: 'SUCCEEDED', attempt: d.attempt, at: d.at });
    }
    case 'StepCompensationFailed': {
      const d = event.data;
      const s = patchStep(state, d.step, {
        ...SETTLED,
        status: d.final ? 'COMPENSATION_FAILED' : 'COMPENSATING',
        error: d.error,
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
      const s = patchStep(state, d.step, { ...SETTLED, status: 'COMPENSATION_FAILED', error: d.error });
      return { ...s, status: 'COMPENSATION_FAILED', stuckStep: d.step };
    }
    case 'CompensationRetried': {
      const stuck = state.stuckStep;
      let s: SagaState = { ...state, status: 'COMPENSATING', stuckStep: undefined };
      if (stuck && s.steps[stuck]) {
        s = patchStep(s, stuck, {
          ...SETTLED,
          status: 'COMPENSATING',
          compensationAttempts: 0,
          compensationRound: s.steps[stuck].compensationRound + 1,
          finishedAt: undefined,
        });
      }
      return s;
    }
    case 'CompensationSkipped': {
      const d = event.data;
      const attempt = state.steps[d.step]?.compensationAttempts ?? 0;
      const s = patchStep(state, d.step, { ...SETTLED, status: 'SKIPPED', finishedAt: d.at });
      return logCompensation(
        { ...s, status: 'COMPENSATING', stuckStep: undefined },
        { step: d.step, status: 'SKIPPED', attempt, actor: d.actor, reason: d.reason, at: d.at },
      );
    }
    case 'SagaCancelRequested':
      return { ...state, cancelRequested: { actor: event.data.actor, reason: event.data.reason, at: event.data.at } };
    case 'SagaScheduled':
      return { ...state, status: 'SCHEDULED', startAt: event.data.startAt };
    case 'SagaSuspended':
      return { ...state, status: 'SUSPENDED', suspendedStep: event.data.step };
    case 'SagaResumed': {
      const d = event.data;
      let s: SagaState = { ...state, status: 'RUNNING', suspendedStep: undefined };
      // The steps that failed for good run again, with fresh attempts.
      for (const step of d.steps) {
        const st = s.steps[step];
        if (st) s = patchStep(s, step, { ...SETTLED, status: 'PENDING', error: undefined, errorCode: undefined, finishedAt: undefined, attemptOffset: st.attempts });
      }
      if (d.config !== undefined && d.step !== undefined) {
        s = { ...s, configOverrides: { ...s.configOverrides, [d.step]: d.config } };
        // A `wait` step's signal and timeout come from its config: the corrected config's apply.
        const waiting = s.plan.steps.find((p) => p.name === d.step && p.waitFor !== undefined);
        const config = d.config as { signal?: unknown; timeoutMs?: unknown };
        if (waiting && typeof config?.signal === 'string') {
          const timeoutMs = typeof config.timeoutMs === 'number' ? config.timeoutMs : waiting.timeoutMs;
          s = { ...s, plan: { ...s.plan, steps: s.plan.steps.map((p) => (p === waiting ? { ...p, waitFor: config.signal as string, timeoutMs } : p)) } };
        }
      }
      return s;
    }
    case 'SignalReceived': {
      const d = event.data;
      return { ...state, signals: [...(state.signals ?? []), { name: d.name, signalId: d.signalId, ...(d.payload !== undefined ? { payload: d.payload } : {}), at: d.at }] };
    }
    default:
      return state;
  }
}

/** The state after `events`, from the initial state. */
export function foldSagaEvents(events: readonly SagaEvent[], from: SagaState = initialSagaState()): SagaState {
  return events.reduce(evolve, from);
}
