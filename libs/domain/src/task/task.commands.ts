import { DomainCommand } from '../decider';
import { TaskError, TaskScheduled } from './task.events';

export type ScheduleTask = DomainCommand<'ScheduleTask', TaskScheduled['data']>;
/*
 * `at` (ISO 8601) is when the handler started or finished, measured by the worker: the event may be
 * appended later, and the decider must not read the clock. `attempt` counts from 1.
 */
export type StartTask = DomainCommand<'StartTask', { attempt: number; at: string }>;
export type CompleteTask = DomainCommand<'CompleteTask', { output: unknown; at: string }>;
export type FailTask = DomainCommand<'FailTask', { error: TaskError; attempt: number; at: string }>;
export type CompensateTask = DomainCommand<'CompensateTask', Record<string, never>>;
export type CancelTask = DomainCommand<'CancelTask', { reason: string }>;

export type TaskCommand = ScheduleTask | StartTask | CompleteTask | FailTask | CompensateTask | CancelTask;
