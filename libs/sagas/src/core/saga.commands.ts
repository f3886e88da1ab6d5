import { SagaIdentity } from './saga.types';

/** A point in time: a Date or an ISO-8601 string. Deciders never read the clock themselves. */
export type Instant = Date | string;

export type StartSaga = { type: 'StartSaga'; data: SagaIdentity & { at: Instant } };
export type StartStep = { type: 'StartStep'; data: { step: string; at: Instant } };
export type SucceedStep = { type: 'SucceedStep'; data: { step: string; attempt: number; output?: unknown; signalId?: string; at: Instant } };
/**
 * Also used for timeouts (`error: 'timeout after N ms'`). `jitter` in [0, 1] spreads the retry
 * delay; `retryable: false` (a business refusal that retrying cannot fix) makes the failure final.
 */
export type FailStep = {
  type: 'FailStep';
  data: { step: string; attempt: number; error: string; at: Instant; jitter: number; retryable?: boolean; code?: string };
};
export type StartStepCompensation = { type: 'StartStepCompensation'; data: { step: string; at: Instant } };
export type SucceedStepCompensation = { type: 'SucceedStepCompensation'; data: { step: string; attempt: number; at: Instant } };
export type FailStepCompensation = {
  type: 'FailStepCompensation';
  data: { step: string; attempt: number; error: string; at: Instant; jitter: number; retryable?: boolean };
};
/** Emits SagaCompensated for a compensating saga with nothing left to undo (see nextWork `finish-compensation`). */
export type FinishCompensation = { type: 'FinishCompensation'; data: { at: Instant } };
export type RetryCompensation = { type: 'RetryCompensation'; data: { actor: string; reason?: string; at: Instant } };
export type SkipCompensation = { type: 'SkipCompensation'; data: { step: string; actor: string; reason: string; at: Instant } };
export type CancelSaga = { type: 'CancelSaga'; data: { actor: string; reason: string; at: Instant } };
/** `config`: replaces the suspended task's config (task-workflow only). */
export type ResumeSaga = { type: 'ResumeSaga'; data: { actor: string; reason: string; config?: unknown; at: Instant } };
export type CompensateSaga = { type: 'CompensateSaga'; data: { actor: string; reason: string; at: Instant } };
export type ReceiveSignal = { type: 'ReceiveSignal'; data: { name: string; signalId: string; payload?: unknown; at: Instant } };

export type SagaCommand =
  | StartSaga
  | StartStep
  | SucceedStep
  | FailStep
  | StartStepCompensation
  | SucceedStepCompensation
  | FailStepCompensation
  | FinishCompensation
  | RetryCompensation
  | SkipCompensation
  | CancelSaga
  | ResumeSaga
  | CompensateSaga
  | ReceiveSignal;

export type SagaCommandType = SagaCommand['type'];

/** Records a failed attempt (a timeout too) of a step (`run`) or of its compensation (`compensate`). */
export function failAttemptCommand(phase: 'run' | 'compensate', data: FailStep['data']): FailStep | FailStepCompensation {
  return phase === 'run' ? { type: 'FailStep', data } : { type: 'FailStepCompensation', data };
}
