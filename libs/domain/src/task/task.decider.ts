import { createdBySameSaga, Decider, DomainError } from '../decider';
import { TaskCommand } from './task.commands';
import { TaskError, TaskEvent } from './task.events';

export type TaskStatus = 'SCHEDULED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'COMPENSATED' | 'CANCELLED';

export interface ScheduledTask {
  status: TaskStatus;
  taskId: string;
  sagaId: string;
  tenantId: string;
  name: string;
  handler: string;
  config: Record<string, unknown>;
  /** The latest attempt started; 0 before the first. */
  attempt: number;
  output: unknown;
  error: TaskError | null;
}

export type TaskState = { status: 'NONE' } | ScheduledTask;

export const taskStreamId = (taskId: string): string => `task-${taskId}`;

function scheduled(state: TaskState): ScheduledTask {
  if (state.status === 'NONE') throw new DomainError('TASK_NOT_FOUND', 'task not found');
  return state;
}

function invalidTransition(task: ScheduledTask, command: TaskCommand): DomainError {
  return new DomainError('INVALID_TASK_TRANSITION', `cannot ${command.type} a task that is ${task.status}`, {
    taskId: task.taskId,
    status: task.status,
    attempt: task.attempt,
    command: command.type,
  });
}

function validAttempt(attempt: number): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new DomainError('INVALID_ATTEMPT', 'attempt must be an integer from 1', { attempt });
  }
  return attempt;
}

export const taskDecider: Decider<TaskState, TaskCommand, TaskEvent> = {
  initialState: () => ({ status: 'NONE' }),

  evolve(state, event) {
    if (event.type === 'TaskScheduled') {
      return { status: 'SCHEDULED', ...event.data, attempt: 0, output: null, error: null };
    }
    if (state.status === 'NONE') return state;
    switch (event.type) {
      case 'TaskStarted':
        return { ...state, status: 'RUNNING', attempt: event.data.attempt, error: null };
      case 'TaskCompleted':
        return { ...state, status: 'COMPLETED', output: event.data.output };
      case 'TaskFailed':
        return { ...state, status: 'FAILED', error: event.data.error };
      case 'TaskCompensated':
        return { ...state, status: 'COMPENSATED' };
      case 'TaskCancelled':
        return { ...state, status: 'CANCELLED' };
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'ScheduleTask': {
        const taskExists = (task: ScheduledTask) => new DomainError('TASK_EXISTS', `task ${task.taskId} already exists`, { taskId: task.taskId });
        if (createdBySameSaga(state, command.data.sagaId, taskExists)) return [];
        const { config, ...rest } = command.data;
        return [{ type: 'TaskScheduled', data: { ...rest, config: { ...config } } }];
      }
      case 'StartTask': {
        const task = scheduled(state);
        const attempt = validAttempt(command.data.attempt);
        if (attempt <= task.attempt) return [];
        // A higher attempt may supersede a RUNNING one whose worker died or timed out.
        if (task.status !== 'SCHEDULED' && task.status !== 'RUNNING' && task.status !== 'FAILED') {
          throw invalidTransition(task, command);
        }
        return [{ type: 'TaskStarted', data: { taskId: task.taskId, attempt, startedAt: command.data.at } }];
      }
      case 'CompleteTask': {
        const task = scheduled(state);
        if (task.status === 'COMPLETED') return [];
        if (task.status !== 'RUNNING') throw invalidTransition(task, command);
        return [
          {
            type: 'TaskCompleted',
            data: {
              taskId: task.taskId,
              attempt: task.attempt,
              output: command.data.output,
              completedAt: command.data.at,
            },
          },
        ];
      }
      case 'FailTask': {
        const task = scheduled(state);
        const attempt = validAttempt(command.data.attempt);
        // A failure reported by an attempt that a later one superseded changes nothing.
        if (attempt < task.attempt) return [];
        if (attempt === task.attempt && task.status === 'FAILED') return [];
        if (attempt > task.attempt || task.status !== 'RUNNING') throw invalidTransition(task, command);
        return [
          {
            type: 'TaskFailed',
            data: { taskId: task.taskId, attempt, error: { ...command.data.error }, failedAt: command.data.at },
          },
        ];
      }
      case 'CompensateTask': {
        const task = scheduled(state);
        if (task.status === 'COMPENSATED') return [];
        // Only a completed task has effects to undo.
        if (task.status !== 'COMPLETED') throw invalidTransition(task, command);
        return [{ type: 'TaskCompensated', data: { taskId: task.taskId } }];
      }
      case 'CancelTask': {
        const task = scheduled(state);
        if (task.status === 'CANCELLED') return [];
        // A COMPLETED task may be cancelled: that is how the provisioning saga voids its smoke test.
        if (task.status === 'COMPENSATED') throw invalidTransition(task, command);
        return [{ type: 'TaskCancelled', data: { taskId: task.taskId, reason: command.data.reason } }];
      }
    }
  },
};
