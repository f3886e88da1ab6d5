import { DomainEvent } from '../decider';

/** JSON only: it is stored in event data. */
export interface TaskError {
  message: string;
  code?: string;
}

export const TaskEventType = {
  TaskScheduled: 'TaskScheduled',
  TaskStarted: 'TaskStarted',
  TaskCompleted: 'TaskCompleted',
  TaskFailed: 'TaskFailed',
  TaskCompensated: 'TaskCompensated',
  TaskCancelled: 'TaskCancelled',
} as const;

export type TaskScheduled = DomainEvent<
  'TaskScheduled',
  { taskId: string; sagaId: string; tenantId: string; name: string; handler: string; config: Record<string, unknown> }
>;
export type TaskStarted = DomainEvent<'TaskStarted', { taskId: string; attempt: number; startedAt: string }>;
export type TaskCompleted = DomainEvent<
  'TaskCompleted',
  { taskId: string; attempt: number; output: unknown; completedAt: string }
>;
export type TaskFailed = DomainEvent<
  'TaskFailed',
  { taskId: string; attempt: number; error: TaskError; failedAt: string }
>;
export type TaskCompensated = DomainEvent<'TaskCompensated', { taskId: string }>;
export type TaskCancelled = DomainEvent<'TaskCancelled', { taskId: string; reason: string }>;

export type TaskEvent = TaskScheduled | TaskStarted | TaskCompleted | TaskFailed | TaskCompensated | TaskCancelled;
