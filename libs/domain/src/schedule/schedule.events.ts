import { DomainEvent } from '../decider';

/** `skip` (default): no fire while the previous saga of the schedule is not terminal. */
export type ScheduleOverlap = 'skip' | 'allow';

export const SCHEDULE_OVERLAPS: readonly ScheduleOverlap[] = ['skip', 'allow'];

export const ScheduleEventType = {
  ScheduleCreated: 'ScheduleCreated',
  SchedulePaused: 'SchedulePaused',
  ScheduleResumed: 'ScheduleResumed',
  ScheduleDeleted: 'ScheduleDeleted',
  ScheduleFired: 'ScheduleFired',
  ScheduledSagaStarted: 'ScheduledSagaStarted',
  ScheduleFireSkipped: 'ScheduleFireSkipped',
  ScheduleFireFailed: 'ScheduleFireFailed',
} as const;

/** What a schedule starts and when: JSON only, it is stored in event data. */
export interface ScheduleDefinition {
  scheduleId: string;
  tenantId: string;
  /** Five-field cron (minute hour day-of-month month day-of-week). */
  cron: string;
  /** IANA time zone the cron is read in. */
  timezone: string;
  sagaType: string;
  /** The start body of `sagaType`, as the start route takes it. */
  body: Record<string, unknown>;
  overlap: ScheduleOverlap;
}

export type ScheduleCreated = DomainEvent<'ScheduleCreated', ScheduleDefinition & { paused: boolean; createdAt: string }>;
export type SchedulePaused = DomainEvent<'SchedulePaused', { scheduleId: string; pausedAt: string }>;
/** Fires count again from `resumedAt`: the times passed while paused are not made up. */
export type ScheduleResumed = DomainEvent<'ScheduleResumed', { scheduleId: string; resumedAt: string }>;
export type ScheduleDeleted = DomainEvent<'ScheduleDeleted', { scheduleId: string; deletedAt: string }>;
/**
 * The fire of `fireTime` is decided: its saga is owed. Recorded before the saga starts, so a leader
 * that dies in between leaves the start to the next one (same idempotency key, same saga).
 */
export type ScheduleFired = DomainEvent<'ScheduleFired', { scheduleId: string; fireTime: string; firedAt: string }>;
export type ScheduledSagaStarted = DomainEvent<'ScheduledSagaStarted', { scheduleId: string; fireTime: string; sagaId: string; startedAt: string }>;
/** `overlap: skip` and the previous saga had not finished. */
export type ScheduleFireSkipped = DomainEvent<
  'ScheduleFireSkipped',
  { scheduleId: string; fireTime: string; reason: 'OVERLAP'; runningSagaId: string; skippedAt: string }
>;
/** The owed saga could not be started (its body is refused now, e.g. a definition that is gone). */
export type ScheduleFireFailed = DomainEvent<'ScheduleFireFailed', { scheduleId: string; fireTime: string; error: string; failedAt: string }>;

export type ScheduleEvent =
  | ScheduleCreated
  | SchedulePaused
  | ScheduleResumed
  | ScheduleDeleted
  | ScheduleFired
  | ScheduledSagaStarted
  | ScheduleFireSkipped
  | ScheduleFireFailed;
