/** What a task handler is given. */
export interface TaskHandlerContext {
  sagaId: string;
  tenantId: string;
  taskId: string;
  taskName: string;
  attempt: number;
  /** Config with `{{ taskId.output.path }}` references already resolved. */
  config: Record<string, unknown>;
  /** Outputs of the tasks this one depends on (directly or not), by task id. */
  upstream: Record<string, unknown>;
  /** For compensation handlers: the output of the task being compensated. */
  output?: unknown;
  /** Deterministic per task and phase: send it as Idempotency-Key to outside systems. */
  idempotencyKey: string;
  signal: AbortSignal;
}

/** A task handler: returns the task's output (JSON), or throws to fail the attempt. */
export type TaskHandler = (ctx: TaskHandlerContext) => Promise<unknown>;

/** Handlers by name. Applications register their own next to the built-in ones. */
export class TaskHandlerRegistry {
  private readonly handlers = new Map<string, TaskHandler>();

  register(name: string, handler: TaskHandler): this {
    this.handlers.set(name, handler);
    return this;
  }

  get(name: string): TaskHandler | undefined {
    return this.handlers.get(name);
  }

  names(): string[] {
    return [...this.handlers.keys()];
  }
}

/** A task failure that retrying cannot fix (bad config): fails the step at once. */
export class PermanentTaskError extends Error {
  readonly permanent = true;
}
