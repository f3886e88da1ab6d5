import { fold } from '../decider';
import { DeciderSpecification } from '../testing/decider-specification';
import { CreateSchedule, FireSchedule } from './schedule.commands';
import { timingProblems } from './schedule.cron';
import {
  dueFireTime,
  RECENT_RUNS,
  Schedule,
  scheduleAggregateId,
  scheduleDecider,
  scheduleFireKey,
  scheduleStreamId,
  nextFireTime,
  upcomingRunAt,
} from './schedule.decider';
import { ScheduleCreated, ScheduleEvent, ScheduleFired, ScheduledSagaStarted, ScheduleFireSkipped } from './schedule.events';

const spec = DeciderSpecification.for(scheduleDecider);

const definition = {
  scheduleId: 'nightly',
  tenantId: 'acme',
  cron: '* * * * *',
  timezone: 'UTC',
  sagaType: 'task-workflow',
  body: { name: 'n', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] },
  overlap: 'skip' as const,
};
const T0 = '2026-01-10T10:00:30.000Z';

const create = (over: Partial<CreateSchedule['data']> = {}): CreateSchedule => ({ type: 'CreateSchedule', data: { ...definition, paused: false, at: T0, ...over } });
const created = (over: Partial<ScheduleCreated['data']> = {}): ScheduleCreated => ({ type: 'ScheduleCreated', data: { ...definition, paused: false, createdAt: T0, ...over } });
const fire = (at: string, previousSaga?: { sagaId: string; running: boolean }): FireSchedule => ({ type: 'FireSchedule', data: { at, ...(previousSaga ? { previousSaga } : {}) } });
const fired = (fireTime: string, firedAt = fireTime): ScheduleFired => ({ type: 'ScheduleFired', data: { scheduleId: 'nightly', fireTime, firedAt } });
const started = (fireTime: string, sagaId: string, startedAt = fireTime): ScheduledSagaStarted => ({
  type: 'ScheduledSagaStarted',
  data: { scheduleId: 'nightly', fireTime, sagaId, startedAt },
});
const skipped = (fireTime: string, runningSagaId: string, skippedAt = fireTime): ScheduleFireSkipped => ({
  type: 'ScheduleFireSkipped',
  data: { scheduleId: 'nightly', fireTime, reason: 'OVERLAP', runningSagaId, skippedAt },
});
const minute = (m: number, s = 0) => `2026-01-10T10:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`;

/** A schedule that fired at 10:01 and whose saga s1 started. */
const firedOnce: ScheduleEvent[] = [created(), fired(minute(1)), started(minute(1), 's1')];

describe('schedule decider', () => {
  it('names the stream after the tenant and the schedule, and the fire key after the schedule and the time', () => {
    expect(scheduleAggregateId('acme', 'nightly')).toBe('acme.nightly');
    expect(scheduleStreamId('acme', 'nightly')).toBe('schedule-acme.nightly');
    expect(scheduleFireKey('nightly', minute(1))).toBe('schedule:nightly:2026-01-10T10:01:00.000Z');
  });

  describe('CreateSchedule', () => {
    it('creates the schedule, active or paused', () => {
      spec.given([]).when(create()).then([created()]);
      spec.given([]).when(create({ paused: true })).then([created({ paused: true })]);
      expect(fold(scheduleDecider, [created({ paused: true })]).status).toBe('PAUSED');
    });

    it('refuses an id in use, and takes it again once deleted', () => {
      spec.given([created()]).when(create()).thenThrows('SCHEDULE_EXISTS', { scheduleId: 'nightly' });
      spec.given([created({ paused: true })]).when(create()).thenThrows('SCHEDULE_EXISTS');
      const deleted = { type: 'ScheduleDeleted' as const, data: { scheduleId: 'nightly', deletedAt: minute(5) } };
      spec.given([...firedOnce, deleted]).when(create({ at: minute(6) })).thenState((s) => {
        expect(s).toMatchObject({ status: 'ACTIVE', activeSince: minute(6), recentRuns: [] });
        expect(s).not.toHaveProperty('lastSagaId');
      });
    });

    it('refuses a cron of six fields, an unknown time zone, a cron that never matches, an unknown overlap and an id that is not a slug', () => {
      spec.given([]).when(create({ cron: '0 * * * * *' })).thenThrows('INVALID_SCHEDULE');
      spec.given([]).when(create({ timezone: 'Mars/Olympus' })).thenThrows('INVALID_SCHEDULE');
      spec.given([]).when(create({ cron: '0 0 30 2 *' })).thenThrows('INVALID_SCHEDULE');
      spec.given([]).when(create({ overlap: 'queue' as never })).thenThrows('INVALID_SCHEDULE');
      spec.given([]).when(create({ scheduleId: 'Nightly Run' })).thenThrows('INVALID_SCHEDULE');
    });
  });

  describe('pause, resume, delete', () => {
    const pause = { type: 'PauseSchedule' as const, data: { at: minute(3) } };
    const resume = { type: 'ResumeSchedule' as const, data: { at: minute(7, 30) } };
    const del = { type: 'DeleteSchedule' as const, data: { at: minute(3) } };
    const paused = { type: 'SchedulePaused' as const, data: { scheduleId: 'nightly', pausedAt: minute(3) } };
    const deleted = { type: 'ScheduleDeleted' as const, data: { scheduleId: 'nightly', deletedAt: minute(3) } };

    it('pauses, resumes and deletes; repeating a pause or a resume writes nothing', () => {
      spec.given([created()]).when(pause).then([paused]);
      spec.given([created(), paused]).when(pause).thenNothing();
      spec.given([created(), paused]).when(resume).then([{ type: 'ScheduleResumed', data: { scheduleId: 'nightly', resumedAt: minute(7, 30) } }]);
      spec.given([created()]).when(resume).thenNothing();
      spec.given([created(), paused]).when(del).then([deleted]);
    });

    it('knows no schedule that was never created or was deleted', () => {
      for (const command of [pause, resume, del, fire(minute(9))]) {
        spec.given([]).when(command).thenThrows('SCHEDULE_NOT_FOUND');
        spec.given([created(), deleted]).when(command).thenThrows('SCHEDULE_NOT_FOUND');
      }
    });

    it('does not fire while paused, nor make up the times passed while paused', () => {
      spec.given([created(), paused]).when(fire(minute(6))).thenNothing();
      const resumed = { type: 'ScheduleResumed' as const, data: { scheduleId: 'nightly', resumedAt: minute(7, 30) } };
      spec.given([created(), paused, resumed]).when(fire(minute(7, 45))).thenNothing();
      spec.given([created(), paused, resumed]).when(fire(minute(8, 1))).then([fired(minute(8), minute(8, 1))]);
    });
  });

  describe('FireSchedule', () => {
    it('fires nothing before the first cron time after creation', () => {
      spec.given([created()]).when(fire(T0)).thenNothing();
      spec.given([created()]).when(fire(minute(0, 59))).thenNothing();
    });

    it('fires the cron time that passed, once', () => {
      spec.given([created()]).when(fire(minute(1))).then([fired(minute(1))]);
      spec.given([created()]).when(fire(minute(1, 20))).then([fired(minute(1), minute(1, 20))]);
      spec.given(firedOnce).when(fire(minute(1, 40), { sagaId: 's1', running: false })).thenNothing();
    });

    it('after a gap fires the most recent missed time once, not once per missed time', () => {
      spec.given(firedOnce).when(fire(minute(4, 10), { sagaId: 's1', running: false })).then([fired(minute(4), minute(4, 10))]);
      spec.given([...firedOnce, fired(minute(4), minute(4, 10)), started(minute(4), 's2')])
        .when(fire(minute(4, 50), { sagaId: 's2', running: false }))
        .thenNothing();
    });

    it('overlap skip: skips (and records) a fire while the previous saga runs, fires again once it finished', () => {
      spec.given(firedOnce).when(fire(minute(2), { sagaId: 's1', running: true })).then([skipped(minute(2), 's1')]);
      const afterSkip = [...firedOnce, skipped(minute(2), 's1')];
      spec.given(afterSkip).when(fire(minute(2, 30), { sagaId: 's1', running: false })).thenNothing();
      spec.given(afterSkip).when(fire(minute(3), { sagaId: 's1', running: false })).then([fired(minute(3))]);
    });

    it('overlap skip: needs the status of the saga it last started', () => {
      spec.given(firedOnce).when(fire(minute(2))).thenThrows('PREVIOUS_SAGA_UNKNOWN', { sagaId: 's1' });
      spec.given(firedOnce).when(fire(minute(2), { sagaId: 'other', running: false })).thenThrows('PREVIOUS_SAGA_UNKNOWN');
    });

    it('overlap allow: fires whatever the previous saga does', () => {
      spec.given([created({ overlap: 'allow' }), fired(minute(1)), started(minute(1), 's1')]).when(fire(minute(2))).then([fired(minute(2))]);
    });

    it('refuses to decide a new fire while the saga of the last one is owed', () => {
      spec.given([created(), fired(minute(1))]).when(fire(minute(2))).thenThrows('FIRE_PENDING', { fireTime: minute(1) });
    });

    it('reads the cron in the time zone, across the spring-forward gap (02:30 Europe/Berlin runs at 03:00 that day)', () => {
      const berlin = [created({ cron: '30 2 * * *', timezone: 'Europe/Berlin', createdAt: '2026-03-28T12:00:00.000Z' })];
      spec.given(berlin).when(fire('2026-03-29T00:59:00.000Z')).thenNothing();
      spec.given(berlin).when(fire('2026-03-29T01:00:00.000Z')).then([fired('2026-03-29T01:00:00.000Z')]);
      const after = [...berlin, fired('2026-03-29T01:00:00.000Z'), started('2026-03-29T01:00:00.000Z', 's1')];
      spec.given(after).when(fire('2026-03-29T23:00:00.000Z', { sagaId: 's1', running: false })).thenNothing();
      // The day after, 02:30 is summer time again (00:30 UTC).
      spec.given(after).when(fire('2026-03-30T00:30:00.000Z', { sagaId: 's1', running: false })).then([fired('2026-03-30T00:30:00.000Z')]);
    });

    it('fires a fixed-time job once on the fall-back day (02:30 Europe/Berlin happens twice)', () => {
      const berlin = [created({ cron: '30 2 * * *', timezone: 'Europe/Berlin', createdAt: '2026-10-24T12:00:00.000Z' })];
      // 02:30 CEST (00:30 UTC) fires; 02:30 CET (01:30 UTC) an hour later does not.
      const once = [...berlin, fired('2026-10-25T00:30:00.000Z'), started('2026-10-25T00:30:00.000Z', 's1')];
      spec.given(berlin).when(fire('2026-10-25T00:30:00.000Z')).then([fired('2026-10-25T00:30:00.000Z')]);
      spec.given(once).when(fire('2026-10-25T01:45:00.000Z', { sagaId: 's1', running: false })).thenNothing();
    });
  });

  describe('recording the saga of a fire', () => {
    const record = (fireTime: string, sagaId: string) => ({ type: 'RecordScheduledSaga' as const, data: { fireTime, sagaId, at: fireTime } });
    const failure = (fireTime: string) => ({ type: 'RecordScheduleFireFailure' as const, data: { fireTime, error: 'unknown definition', at: fireTime } });

    it('records the started saga of the owed fire; a repeat writes nothing', () => {
      spec.given([created(), fired(minute(1))]).when(record(minute(1), 's1')).then([started(minute(1), 's1')]);
      spec.given(firedOnce).when(record(minute(1), 's1')).thenNothing();
    });

    it('records a fire whose saga cannot start, which owes nothing more', () => {
      spec.given([created(), fired(minute(1))]).when(failure(minute(1))).thenState((s) => {
        expect(s).toMatchObject({ recentRuns: [{ at: minute(1), error: 'unknown definition' }] });
        expect(s).not.toHaveProperty('pendingFireAt');
      });
    });

    it('refuses a fire that was never decided', () => {
      spec.given([created()]).when(record(minute(1), 's1')).thenThrows('NO_PENDING_FIRE');
      spec.given([]).when(record(minute(1), 's1')).thenThrows('SCHEDULE_NOT_FOUND');
    });

    it('finishes an owed fire even after a pause', () => {
      const paused = { type: 'SchedulePaused' as const, data: { scheduleId: 'nightly', pausedAt: minute(1, 5) } };
      spec.given([created(), fired(minute(1)), paused]).when(record(minute(1), 's1')).then([started(minute(1), 's1')]);
    });
  });

  describe('state and times', () => {
    it('shows the recent runs newest first, at most RECENT_RUNS', () => {
      const events: ScheduleEvent[] = [created()];
      for (let m = 1; m <= RECENT_RUNS + 5; m++) {
        const at = new Date(Date.parse(minute(0)) + m * 60_000).toISOString();
        events.push(fired(at), started(at, `s${m}`));
      }
      events.push(skipped(new Date(Date.parse(minute(0)) + (RECENT_RUNS + 6) * 60_000).toISOString(), `s${RECENT_RUNS + 5}`));
      const s = fold(scheduleDecider, events) as Schedule;
      expect(s.recentRuns).toHaveLength(RECENT_RUNS);
      expect(s.recentRuns[0]).toEqual({ at: '2026-01-10T10:26:00.000Z', skipped: true });
      expect(s.recentRuns[1]).toEqual({ at: '2026-01-10T10:25:00.000Z', sagaId: 's25' });
      expect(s.lastSagaId).toBe('s25');
      expect(s.lastFireAt).toBe('2026-01-10T10:26:00.000Z');
    });

    it('computes the due fire, the next fire and the upcoming run', () => {
      const s = fold(scheduleDecider, firedOnce) as Schedule;
      expect(dueFireTime(s, new Date(minute(1, 59)))).toBeUndefined();
      expect(dueFireTime(s, new Date(minute(9, 1)))).toBe(minute(9));
      expect(nextFireTime(s)).toBe(minute(2));
      expect(upcomingRunAt(s, new Date(minute(9, 1)))).toBe(minute(10));
      expect(upcomingRunAt({ ...s, status: 'PAUSED' }, new Date(minute(9, 1)))).toBeUndefined();
    });
  });
});

describe('schedule timing', () => {
  it('takes five-field crons and IANA zones only', () => {
    expect(timingProblems('*/5 9-17 * * MON-FRI', 'Europe/Berlin')).toEqual([]);
    expect(timingProblems('0 0 L * *', 'America/New_York')).toEqual([]);
    for (const cron of ['* * * * * *', '* * * *', '@daily', '2030-01-01T00:00:00', '61 * * * *', '', 7]) {
      expect({ cron, problems: timingProblems(cron, 'UTC').map((p) => p.field) }).toEqual({ cron, problems: ['cron'] });
    }
    for (const timezone of ['Mars/Olympus', '+01:00', '', 'Local', null]) {
      expect({ timezone, problems: timingProblems('* * * * *', timezone).map((p) => p.field) }).toEqual({ timezone, problems: ['timezone'] });
    }
  });
});
