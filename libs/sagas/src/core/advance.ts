import { nextWork } from './next-work';
import { decide, foldSagaEvents } from './saga.decider';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { SagaState } from './saga.state';
import { FailStep, Instant } from './saga.commands';

/** The failure (CANCELLED, final) of an external step still running in a saga that stopped running. */
export function cancelStepCommand(state: SagaState, action: { step: string; attempt: number }, at: Instant): FailStep {
  const error = `cancelled: the saga is ${state.status.toLowerCase()}`;
  return { type: 'FailStep', data: { step: action.step, attempt: action.attempt, error, code: 'CANCELLED', at, jitter: 0, retryable: false } };
}

/** The cancellations of the external steps still running in `state` (see cancelStepCommand). */
export function cancelRunningExternalSteps(state: SagaState, at: Instant): SagaEvent[] {
  const now = typeof at === 'string' ? new Date(at) : at;
  let s = state;
  const out: SagaEvent[] = [];
  for (const action of nextWork(state, now).actions) {
    if (action.kind !== 'cancel-step') continue;
    const evs = decide(cancelStepCommand(s, action, at), s);
    s = foldSagaEvents(evs, s);
    out.push(...evs);
  }
  return out;
}

/**
 * The transitions that are due at once in `state` and need no effect's outcome first: start the
 * steps (or retries) that are due, start the next compensation, finish a compensation with nothing
 * left to undo, cancel the external steps of a saga that stopped running. The executor appends them in the same commit as the transition that made them due
 * (a step's outcome and the start of the next step: one commit per step instead of two). Timeouts
 * are left to the worker loop: only it knows which effects are in flight. Pure.
 */
export function advance(state: SagaState, now: Date): { events: SagaEvent[]; state: SagaState } {
  const events: SagaEvent[] = [];
  let s = state;
  // Each round decides on the state the previous one left; a plan has finitely many steps.
  for (let round = 0; round < 2 * s.plan.steps.length + 2; round++) {
    const produced: SagaEvent[] = [];
    for (const action of nextWork(s, now).actions) {
      let command: Parameters<typeof decide>[0] | undefined;
      if (action.kind === 'start-step' || action.kind === 'retry-step') command = { type: 'StartStep', data: { step: action.step, at: now } };
      else if (action.kind === 'compensate-step') command = { type: 'StartStepCompensation', data: { step: action.step, at: now } };
      else if (action.kind === 'finish-compensation') command = { type: 'FinishCompensation', data: { at: now } };
      else if (action.kind === 'cancel-step') command = cancelStepCommand(s, action, now);
      else if (action.kind === 'deliver-signal') {
        const { step, attempt, signalId, payload } = action;
        command = { type: 'SucceedStep', data: { step, attempt, output: payload ?? null, signalId, at: now } };
      }
      if (!command) continue;
      try {
        const evs = decide(command, s);
        s = foldSagaEvents(evs, s);
        produced.push(...evs);
      } catch (err) {
        if (!(err instanceof SagaError)) throw err;
      }
      // A compensation or finish changes what is due next: plan again from the new state.
      // (A delivered signal too: another wait step of its name must not take it as well.)
      if (command.type !== 'StartStep' && command.type !== 'FailStep' && produced.length) break;
    }
    if (produced.length === 0) break;
    events.push(...produced);
  }
  return { events, state: s };
}
