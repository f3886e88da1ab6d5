import { PolledTask } from './protocol.types';

/** What a handler may do about the task it runs, besides returning its output. */
export interface TaskContext {
  /**
   * Aborted when the task is no longer this instance's (lock lost, saga cancelled) or the instance
   * shuts down past its drain deadline: pass it to `fetch` and friends, and stop working.
   */
  signal: AbortSignal;
  /** Reports progress (0..100). Best effort: a network fault is logged, not thrown. */
  progress(percent: number, message?: string): Promise<void>;
  /**
   * Extends the lock now to `lockMs` from now; later automatic extensions use this duration too.
   * Rarely needed: the runner already extends at about half of the lock while the handler runs.
   */
  extend(lockMs: number): Promise<{ lockedUntil: string }>;
}

/**
 * Does one task: the resolved value becomes the task's output; a throw fails the task with the
 * error's `message` (and `code` when it is a string). Throw an error with `retryable: false` when a
 * retry cannot succeed (bad input), so the retry policy is skipped.
 */
export type TaskHandler<Output = unknown> = (task: PolledTask, ctx: TaskContext) => Output | Promise<Output>;

/** One handler for every capability, or one per capability (`*` catches the others). */
export type TaskHandlers = TaskHandler | Record<string, TaskHandler>;

/** An error whose `retryable: false` tells the platform not to retry the task. */
export class NonRetryableError extends Error {
  readonly retryable = false;

  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

export function handlerFor(handlers: TaskHandlers, capability: string): TaskHandler | undefined {
  if (typeof handlers === 'function') return handlers;
  if (Object.prototype.hasOwnProperty.call(handlers, capability)) return handlers[capability];
  return handlers['*'];
}
