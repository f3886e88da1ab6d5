import { Decider, DomainError } from '../decider';
import { ScheduleCommand } from './schedule.commands';
import { latestFireBetween, nextFireAfter, timingProblems } from './schedule.cron';
import { SCHEDULE_OVERLAPS, ScheduleDefinition, ScheduleEvent } from './schedule.events';

export type ScheduleStatus = 'ACTIVE' | 'PAUSED' | 'DELETED';

/** One fire as `recentRuns` shows it: started (`sagaId`), skipped, failed, or still starting (only `at`). */
export interface ScheduleRun {
  /** The cron time of the fire (ISO). */
  at: string;
  sagaId?: string;
  skipped?: true;
  error?: string;
}

/** A schedule id: a slug of the tenant's choosing, or a generated (lower-case) UUID. */
export const SCHEDULE_ID_PATTERN = /^[a-z0-9-]{1,100}$/;

/** How many fires a schedule remembers (newest first). */
export const RECENT_RUNS = 20;

export interface Schedule extends ScheduleDefinition {
  status: ScheduleStatus;
  createdAt: string;
  /** Creation or the latest resume: cron times up to here never fire. */
  activeSince: string;
  /** Cron time of the latest fire decided (started or skipped). */
  lastFireAt?: string;
  /** The saga of the latest fire that started one: the subject of `overlap: skip`. */
  lastSagaId?: string;
  /** A fire decided whose saga start is not recorded yet: owed before anything else. */
  pendingFireAt?: string;
  recentRuns: ScheduleRun[];
}

export type ScheduleState = { status: 'NONE' } | Schedule;

/**
 * Schedules are named per tenant (two tenants may both have `nightly`), so the aggregate id is the
 * tenant and the schedule id: streams are `schedule-<tenantId>.<scheduleId>` ('.' is in neither).
 */
export const scheduleAggregateId = (tenantId: string, scheduleId: string): string => `${tenantId}.${scheduleId}`;
export const scheduleStreamId = (tenantId: string, scheduleId: string): string => `schedule-${scheduleAggregateId(tenantId, scheduleId)}`;

/** The idempotency key of a fire's saga: any number of attempts to start it start one saga. */
export const scheduleFireKey = (scheduleId: string, fireTime: string): string => `schedule:${scheduleId}:${fireTime}`;

const later = (a: string, b: string | undefined): string => (b !== undefined && Date.parse(b) > Date.parse(a) ? b : a);

/** Where cron times start to count: after the activation and after the latest fire. */
const firesAfter = (s: Schedule): Date => new Date(later(s.activeSince, s.lastFireAt));

/**
 * The fire due at `now` (ISO), or undefined: the most recent cron time since the last fire or the
 * activation, so a schedule that missed several (no worker ran) fires once, not once per time.
 */
export function dueFireTime(s: Schedule, now: Date): string | undefined {
  if (s.status !== 'ACTIVE') return undefined;
  return latestFireBetween(s.cron, s.timezone, firesAfter(s), now)?.toISOString();
}

/** The first cron time after the last fire or activation (may be past when a fire is due); undefined while not active. */
export function nextFireTime(s: Schedule): string | undefined {
  if (s.status !== 'ACTIVE') return undefined;
  return nextFireAfter(s.cron, s.timezone, firesAfter(s))?.toISOString();
}

/** When the schedule fires next as seen at `now` (the next cron time from now on); undefined while not active. */
export function upcomingRunAt(s: Schedule, now: Date): string | undefined {
  if (s.status !== 'ACTIVE') return undefined;
  const from = firesAfter(s).getTime() > now.getTime() ? firesAfter(s) : now;
  return nextFireAfter(s.cron, s.timezone, from)?.toISOString();
}

function live(state: ScheduleState): Schedule {
  if (state.status === 'NONE' || state.status === 'DELETED') throw new DomainError('SCHEDULE_NOT_FOUND', 'schedule not found');
  return state;
}

function isoTime(value: string, field: string): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new DomainError('INVALID_SCHEDULE', `${field} must be an ISO time`, { field });
  }
  return value;
}

function withRun(runs: ScheduleRun[], run: ScheduleRun): ScheduleRun[] {
  const rest = runs.filter((r) => r.at !== run.at);
  return [run, ...rest].slice(0, RECENT_RUNS);
}

export const scheduleDecider: Decider<ScheduleState, ScheduleCommand, ScheduleEvent> = {
  initialState: () => ({ status: 'NONE' }),

  evolve(state, event) {
    if (event.type === 'ScheduleCreated') {
      const { paused, createdAt, ...definition } = event.data;
      return { ...definition, status: paused ? 'PAUSED' : 'ACTIVE', createdAt, activeSince: createdAt, recentRuns: [] };
    }
    if (state.status === 'NONE') return state;
    switch (event.type) {
      case 'SchedulePaused':
        return { ...state, status: 'PAUSED' };
      case 'ScheduleResumed':
        return { ...state, status: 'ACTIVE', activeSince: event.data.resumedAt };
      case 'ScheduleDeleted':
        return { ...state, status: 'DELETED' };
      case 'ScheduleFired': {
        const { fireTime } = event.data;
        return { ...state, lastFireAt: fireTime, pendingFireAt: fireTime, recentRuns: withRun(state.recentRuns, { at: fireTime }) };
      }
      case 'ScheduledSagaStarted': {
        const { pendingFireAt: _owed, ...rest } = state;
        const { fireTime, sagaId } = event.data;
        return { ...rest, lastSagaId: sagaId, recentRuns: withRun(state.recentRuns, { at: fireTime, sagaId }) };
      }
      case 'ScheduleFireSkipped': {
        const { fireTime } = event.data;
        return { ...state, lastFireAt: fireTime, recentRuns: withRun(state.recentRuns, { at: fireTime, skipped: true }) };
      }
      case 'ScheduleFireFailed': {
        const { pendingFireAt: _owed, ...rest } = state;
        const { fireTime, error } = event.data;
        return { ...rest, recentRuns: withRun(state.recentRuns, { at: fireTime, error }) };
      }
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'CreateSchedule': {
        const { paused, at, ...definition } = command.data;
        if (state.status === 'ACTIVE' || state.status === 'PAUSED') {
          throw new DomainError('SCHEDULE_EXISTS', `schedule ${definition.scheduleId} already exists`, { scheduleId: definition.scheduleId });
        }
        const problems: { field: string; message: string }[] = timingProblems(definition.cron, definition.timezone);
        if (!SCHEDULE_OVERLAPS.includes(definition.overlap)) problems.push({ field: 'overlap', message: 'overlap must be skip or allow' });
        if (typeof definition.scheduleId !== 'string' || !SCHEDULE_ID_PATTERN.test(definition.scheduleId)) {
          problems.push({ field: 'id', message: `id must match ${SCHEDULE_ID_PATTERN.source}` });
        }
        if (problems.length) throw new DomainError('INVALID_SCHEDULE', problems.map((p) => p.message).join('; '), { problems });
        return [
          {
            type: 'ScheduleCreated',
            data: { ...definition, body: { ...definition.body }, paused: paused === true, createdAt: isoTime(at, 'at') },
          },
        ];
      }
      case 'PauseSchedule': {
        const s = live(state);
        if (s.status === 'PAUSED') return [];
        return [{ type: 'SchedulePaused', data: { scheduleId: s.scheduleId, pausedAt: isoTime(command.data.at, 'at') } }];
      }
      case 'ResumeSchedule': {
        const s = live(state);
        if (s.status === 'ACTIVE') return [];
        return [{ type: 'ScheduleResumed', data: { scheduleId: s.scheduleId, resumedAt: isoTime(command.data.at, 'at') } }];
      }
      case 'DeleteSchedule': {
        const s = live(state);
        return [{ type: 'ScheduleDeleted', data: { scheduleId: s.scheduleId, deletedAt: isoTime(command.data.at, 'at') } }];
      }
      case 'FireSchedule': {
        const s = live(state);
        const at = isoTime(command.data.at, 'at');
        if (s.pendingFireAt !== undefined) {
          throw new DomainError('FIRE_PENDING', `the saga of the fire at ${s.pendingFireAt} is not recorded yet`, { fireTime: s.pendingFireAt });
        }
        const fireTime = dueFireTime(s, new Date(at));
        if (fireTime === undefined) return [];
        if (s.overlap === 'skip' && s.lastSagaId !== undefined) {
          const seen = command.data.previousSaga;
          if (seen?.sagaId !== s.lastSagaId) {
            throw new DomainError('PREVIOUS_SAGA_UNKNOWN', `overlap skip: the status of saga ${s.lastSagaId} is needed`, { sagaId: s.lastSagaId });
          }
          if (seen.running) {
            return [{ type: 'ScheduleFireSkipped', data: { scheduleId: s.scheduleId, fireTime, reason: 'OVERLAP', runningSagaId: seen.sagaId, skippedAt: at } }];
          }
        }
        return [{ type: 'ScheduleFired', data: { scheduleId: s.scheduleId, fireTime, firedAt: at } }];
      }
      case 'RecordScheduledSaga':
      case 'RecordScheduleFireFailure': {
        if (state.status === 'NONE') throw new DomainError('SCHEDULE_NOT_FOUND', 'schedule not found');
        const { fireTime } = command.data;
        const at = isoTime(command.data.at, 'at');
        if (state.pendingFireAt !== fireTime) {
          // Recorded before (a leader's retry, or a zombie leader's late call): nothing more to write.
          if (state.recentRuns.some((r) => r.at === fireTime) || (state.lastFireAt && Date.parse(fireTime) <= Date.parse(state.lastFireAt))) return [];
          throw new DomainError('NO_PENDING_FIRE', `no fire at ${fireTime} is waiting for its saga`, { fireTime });
        }
        return command.type === 'RecordScheduledSaga'
          ? [{ type: 'ScheduledSagaStarted', data: { scheduleId: state.scheduleId, fireTime, sagaId: command.data.sagaId, startedAt: at } }]
          : [{ type: 'ScheduleFireFailed', data: { scheduleId: state.scheduleId, fireTime, error: command.data.error, failedAt: at } }];
      }
    }
  },
};
