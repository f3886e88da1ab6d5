import { SagaIdentity } from './saga.types';

/** Saga events. Type strings are stable (stored); every time is an ISO-8601 string. */
export type SagaStarted = { type: 'SagaStarted'; data: SagaIdentity & { at: string } };
/** `timeoutAt` is absent for an external step (its queue bounds the attempt from the lock). */
export type StepStarted = { type: 'StepStarted'; data: { step: string; attempt: number; at: string; timeoutAt?: string } };
/** `signalId`: a wait step's output is the payload of this signal (consumed by it). */
export type StepSucceeded = { type: 'StepSucceeded'; data: { step: string; attempt: number; output?: unknown; signalId?: string; at: string } };
export type StepFailed = {
  type: 'StepFailed';
  /** `code`: set where the platform decided the failure (TIMEOUT, EXPIRED, LOCK_EXPIRED, CANCELLED, ...). */
  data: { step: string; attempt: number; error: string; code?: string; final: boolean; at: string };
};
export type StepRetryScheduled = {
  type: 'StepRetryScheduled';
  data: { step: string; nextAttempt: number; dueAt: string; delayMs: number; at: string };
};
export type CompensationStarted = {
  type: 'CompensationStarted';
  data: { reason: string; failedStep?: string; at: string; actor?: string };
};
export type StepCompensationStarted = {
  type: 'StepCompensationStarted';
  data: { step: string; attempt: number; at: string; timeoutAt: string };
};
export type StepCompensated = { type: 'StepCompensated'; data: { step: string; attempt: number; at: string } };
export type StepCompensationFailed = {
  type: 'StepCompensationFailed';
  data: { step: string; attempt: number; error: string; final: boolean; retryAt?: string; at: string };
};
export type SagaCompleted = { type: 'SagaCompleted'; data: { at: string } };
/** `rolledBack`: the compensation was an operator's (cancel or compensate), not a step's failure. */
export type SagaCompensated = { type: 'SagaCompensated'; data: { at: string; rolledBack?: boolean } };
/** The saga waits until `startAt` (SCHEDULED). */
export type SagaScheduled = { type: 'SagaScheduled'; data: { startAt: string; at: string } };
/** `step` failed for good and the saga's onFailure is `suspend`: it waits for an operator. */
export type SagaSuspended = { type: 'SagaSuspended'; data: { step: string; error: string; at: string } };
/** An operator resumed a SUSPENDED saga: `steps` run again with fresh attempts (`config` replaces `step`'s). */
export type SagaResumed = {
  type: 'SagaResumed';
  data: { actor: string; reason: string; step?: string; steps: string[]; config?: unknown; at: string };
};
export type SignalReceived = { type: 'SignalReceived'; data: { name: string; signalId: string; payload?: unknown; at: string } };
export type SagaCompensationFailed = { type: 'SagaCompensationFailed'; data: { step: string; error: string; at: string } };
export type CompensationRetried = { type: 'CompensationRetried'; data: { actor: string; reason?: string; at: string } };
export type CompensationSkipped = {
  type: 'CompensationSkipped';
  data: { step: string; actor: string; reason: string; at: string };
};
export type SagaCancelRequested = { type: 'SagaCancelRequested'; data: { actor: string; reason: string; at: string } };

export type SagaEvent =
  | SagaStarted
  | StepStarted
  | StepSucceeded
  | StepFailed
  | StepRetryScheduled
  | CompensationStarted
  | StepCompensationStarted
  | StepCompensated
  | StepCompensationFailed
  | SagaCompleted
  | SagaCompensated
  | SagaCompensationFailed
  | CompensationRetried
  | CompensationSkipped
  | SagaCancelRequested
  | SagaScheduled
  | SagaSuspended
  | SagaResumed
  | SignalReceived;

export type SagaEventType = SagaEvent['type'];

export const SAGA_EVENT_TYPES: readonly SagaEventType[] = [
  'SagaStarted',
  'StepStarted',
  'StepSucceeded',
  'StepFailed',
  'StepRetryScheduled',
  'CompensationStarted',
  'StepCompensationStarted',
  'StepCompensated',
  'StepCompensationFailed',
  'SagaCompleted',
  'SagaCompensated',
  'SagaCompensationFailed',
  'CompensationRetried',
  'CompensationSkipped',
  'SagaCancelRequested',
  'SagaScheduled',
  'SagaSuspended',
  'SagaResumed',
  'SignalReceived',
];

export function isSagaEvent(event: { type: string }): event is SagaEvent {
  return (SAGA_EVENT_TYPES as readonly string[]).includes(event.type);
}
