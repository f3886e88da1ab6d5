import { fold } from '../decider';
import { DeciderSpecification } from '../testing/decider-specification';
import { CancelTask, CompleteTask, FailTask, ScheduleTask, StartTask } from './task.commands';
import { taskDecider, taskStreamId } from './task.decider';
import {
  TaskCancelled,
  TaskCompensated,
  TaskCompleted,
  TaskEvent,
  TaskFailed,
  TaskScheduled,
  TaskStarted,
} from './task.events';

const spec = DeciderSpecification.for(taskDecider);

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T10:00:01.000Z';
const definition = { taskId: 't1', sagaId: 's1', tenantId: 'acme', name: 'smoke', handler: 'echo', config: { a: 1 } };
const error = { message: 'boom', code: 'HANDLER_FAILED' };

const schedule: ScheduleTask = { type: 'ScheduleTask', data: definition };
const start = (attempt: number): StartTask => ({ type: 'StartTask', data: { attempt, at: T0 } });
const complete: CompleteTask = { type: 'CompleteTask', data: { output: { ok: true }, at: T1 } };
const fail = (attempt: number): FailTask => ({ type: 'FailTask', data: { error, attempt, at: T1 } });
const compensate = { type: 'CompensateTask' as const, data: {} };
const cancel: CancelTask = { type: 'CancelTask', data: { reason: 'saga compensating' } };

const scheduled: TaskScheduled = { type: 'TaskScheduled', data: definition };
const started = (attempt: number): TaskStarted => ({ type: 'TaskStarted', data: { taskId: 't1', attempt, startedAt: T0 } });
const completed = (attempt: number): TaskCompleted => ({
  type: 'TaskCompleted',
  data: { taskId: 't1', attempt, output: { ok: true }, completedAt: T1 },
});
const failed = (attempt: number): TaskFailed => ({ type: 'TaskFailed', data: { taskId: 't1', attempt, error, failedAt: T1 } });
const compensated: TaskCompensated = { type: 'TaskCompensated', data: { taskId: 't1' } };
const cancelled: TaskCancelled = { type: 'TaskCancelled', data: { taskId: 't1', reason: 'saga compensating' } };

const history: Record<string, TaskEvent[]> = {
  SCHEDULED: [scheduled],
  RUNNING: [scheduled, started(1)],
  COMPLETED: [scheduled, started(1), completed(1)],
  FAILED: [scheduled, started(1), failed(1)],
  COMPENSATED: [scheduled, started(1), completed(1), compensated],
  CANCELLED: [scheduled, cancelled],
};

describe('task decider', () => {
  it('names the stream after the task', () => {
    expect(taskStreamId('t1')).toBe('task-t1');
  });

  it('folds status, attempt, output and error', () => {
    expect(fold(taskDecider, [scheduled, started(1), failed(1)])).toMatchObject({ status: 'FAILED', attempt: 1, error });
    expect(fold(taskDecider, [scheduled, started(1), failed(1), started(2), completed(2)])).toEqual({
      status: 'COMPLETED',
      ...definition,
      attempt: 2,
      output: { ok: true },
      error: null,
    });
  });

  it('refuses every command but ScheduleTask on an unknown task', () => {
    for (const command of [start(1), complete, fail(1), compensate, cancel]) {
      spec.given([]).when(command).thenThrows('TASK_NOT_FOUND');
    }
  });

  describe('ScheduleTask', () => {
    it('schedules the task', () => {
      spec.given([]).when(schedule).then([scheduled]);
    });

    it('writes nothing when the same saga schedules again (its retry)', () => {
      spec.given(history.RUNNING).when(schedule).thenNothing();
    });

    it('refuses a task id scheduled by another saga', () => {
      spec
        .given([scheduled])
        .when({ ...schedule, data: { ...definition, sagaId: 's2' } })
        .thenThrows('TASK_EXISTS', { taskId: 't1' });
    });
  });

  describe('StartTask', () => {
    it('starts a scheduled task', () => {
      spec.given(history.SCHEDULED).when(start(1)).then([started(1)]);
    });

    it('starts a failed task again with the next attempt', () => {
      spec.given(history.FAILED).when(start(2)).then([started(2)]);
    });

    it('lets a later attempt supersede a running one that was lost', () => {
      spec.given(history.RUNNING).when(start(2)).then([started(2)]);
    });

    it('writes nothing for an attempt already started', () => {
      spec.given(history.RUNNING).when(start(1)).thenNothing();
      spec.given(history.COMPLETED).when(start(1)).thenNothing();
    });

    it('refuses a new attempt of a finished task', () => {
      for (const status of ['COMPLETED', 'COMPENSATED', 'CANCELLED']) {
        spec.given(history[status]).when(start(2)).thenThrows('INVALID_TASK_TRANSITION', { status, command: 'StartTask' });
      }
    });

    it('refuses an attempt below 1 or not an integer', () => {
      spec.given(history.SCHEDULED).when(start(0)).thenThrows('INVALID_ATTEMPT');
      spec.given(history.SCHEDULED).when(start(1.5)).thenThrows('INVALID_ATTEMPT');
    });
  });

  describe('CompleteTask', () => {
    it('completes a running task with its output', () => {
      spec.given(history.RUNNING).when(complete).then([completed(1)]);
    });

    it('writes nothing when already completed', () => {
      spec.given(history.COMPLETED).when(complete).thenNothing();
    });

    it('refuses a task that is not running', () => {
      for (const status of ['SCHEDULED', 'FAILED', 'COMPENSATED', 'CANCELLED']) {
        spec.given(history[status]).when(complete).thenThrows('INVALID_TASK_TRANSITION', { status });
      }
    });
  });

  describe('FailTask', () => {
    it('fails the running attempt with the error', () => {
      spec.given(history.RUNNING).when(fail(1)).then([failed(1)]);
    });

    it('writes nothing for a repeated or superseded failure', () => {
      spec.given(history.FAILED).when(fail(1)).thenNothing();
      spec.given([scheduled, started(1), started(2)]).when(fail(1)).thenNothing();
    });

    it('refuses an attempt that was never started', () => {
      spec.given(history.RUNNING).when(fail(2)).thenThrows('INVALID_TASK_TRANSITION', { attempt: 1 });
    });

    it('refuses a task that is not running', () => {
      for (const status of ['SCHEDULED', 'COMPLETED', 'COMPENSATED', 'CANCELLED']) {
        spec.given(history[status]).when(fail(1)).thenThrows('INVALID_TASK_TRANSITION', { status });
      }
    });

    it('refuses an invalid attempt', () => {
      spec.given(history.RUNNING).when(fail(-1)).thenThrows('INVALID_ATTEMPT');
    });
  });

  describe('CompensateTask', () => {
    it('compensates a completed task', () => {
      spec.given(history.COMPLETED).when(compensate).then([compensated]);
    });

    it('writes nothing when already compensated', () => {
      spec.given(history.COMPENSATED).when(compensate).thenNothing();
    });

    it('refuses a task that did not complete', () => {
      for (const status of ['SCHEDULED', 'RUNNING', 'FAILED', 'CANCELLED']) {
        spec.given(history[status]).when(compensate).thenThrows('INVALID_TASK_TRANSITION', { status });
      }
    });
  });

  describe('CancelTask', () => {
    it('cancels a task that is scheduled, running, failed or completed', () => {
      for (const status of ['SCHEDULED', 'RUNNING', 'FAILED', 'COMPLETED']) {
        spec.given(history[status]).when(cancel).then([cancelled]);
      }
    });

    it('writes nothing when already cancelled', () => {
      spec.given(history.CANCELLED).when(cancel).thenNothing();
    });

    it('refuses a compensated task', () => {
      spec.given(history.COMPENSATED).when(cancel).thenThrows('INVALID_TASK_TRANSITION', { status: 'COMPENSATED' });
    });
  });
});
