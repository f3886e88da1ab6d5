/**
 * In-process task handlers of a deployment: `TASK_HANDLERS_MODULE=examples/handlers/handlers.ts npm start`
 * adds `greet` and `sum` next to the built-in handlers (no platform code edited). A handler gets the
 * task's rendered config, upstream outputs, an Idempotency-Key for outside calls and an AbortSignal
 * (timeout, cancel, shutdown); it returns the task's output or throws to fail the attempt.
 */
import type { TaskHandler } from '../../libs/sagas/src/tasks/task-handler';

export const handlers: Record<string, TaskHandler> = {
  greet: async ({ config }) => ({ greeting: `hello, ${String(config.name ?? 'world')}` }),
  sum: async ({ config }) => {
    const values = Array.isArray(config.values) ? config.values.map(Number) : [];
    if (values.some(Number.isNaN)) throw new Error('sum: every value must be a number');
    return { sum: values.reduce((a, b) => a + b, 0) };
  },
};
