import { DomainCommand } from '../decider';
import { ScheduleDefinition } from './schedule.events';

/*
 * Every `at` (ISO 8601) is the caller's clock: the decider never reads one, so the scheduler can
 * be driven through an injected clock and the specs pin exact times.
 */
export type CreateSchedule = DomainCommand<'CreateSchedule', ScheduleDefinition & { paused: boolean; at: string }>;
export type PauseSchedule = DomainCommand<'PauseSchedule', { at: string }>;
export type ResumeSchedule = DomainCommand<'ResumeSchedule', { at: string }>;
export type DeleteSchedule = DomainCommand<'DeleteSchedule', { at: string }>;
/**
 * Fire what is due at `at`: the most recent cron time since the last fire (or activation), once,
 * however many were missed. `previousSaga` is the status of the schedule's last saga as the caller
 * saw it (needed with `overlap: skip` once a saga was started).
 */
export type FireSchedule = DomainCommand<'FireSchedule', { at: string; previousSaga?: { sagaId: string; running: boolean } }>;
export type RecordScheduledSaga = DomainCommand<'RecordScheduledSaga', { fireTime: string; sagaId: string; at: string }>;
export type RecordScheduleFireFailure = DomainCommand<'RecordScheduleFireFailure', { fireTime: string; error: string; at: string }>;

export type ScheduleCommand =
  | CreateSchedule
  | PauseSchedule
  | ResumeSchedule
  | DeleteSchedule
  | FireSchedule
  | RecordScheduledSaga
  | RecordScheduleFireFailure;
