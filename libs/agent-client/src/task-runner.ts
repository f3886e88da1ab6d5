import { AgentClient } from './agent-client';
import { AgentLogger } from './agent-logger';
import { backoffDelay, BackoffOptions, sleep } from './backoff';
import { LockKeeper } from './lock-keeper';
import { FailRequest, PolledTask } from './protocol.types';
import { classifyRefusal } from './refusals';
import { TaskContext, TaskHandler } from './task-handler';

/** How a task ended for this instance. */
export type TaskOutcome = 'completed' | 'failed' | 'lost' | 'abandoned' | 'unreported';

export interface TaskRunOptions {
  client: AgentClient;
  logger: AgentLogger;
  lockMs: number;
  backoff?: BackoffOptions;
  /** Aborted when the instance gives up on its in-flight work (drain deadline passed). */
  abandon: AbortSignal;
}

type Fields = Record<string, unknown>;
type Report = { sent: true } | { sent: false; why: 'lost' | 'refused' | 'gave-up'; error?: unknown };

/** The API's bounds on a reported error (a longer one would refuse the whole report). */
const MAX_MESSAGE = 4000;
const MAX_CODE = 100;

/**
 * Runs one polled task to its report: the handler under a kept lock, then complete or fail. A task
 * found to be no longer ours is dropped without a report: the fencing token would refuse it anyway,
 * and the instance that holds the task now owns its outcome.
 */
export async function runTask(task: PolledTask, handler: TaskHandler | undefined, o: TaskRunOptions): Promise<TaskOutcome> {
  const started = Date.now();
  const fields: Fields = { taskId: task.taskId, capability: task.capability, attempt: task.attempt };
  const controller = new AbortController();
  let lost = false;
  const markLost = (err: unknown) => {
    if (lost) return;
    lost = true;
    controller.abort(err);
  };
  const keeper = new LockKeeper({ client: o.client, task, lockMs: o.lockMs, logger: o.logger, backoff: o.backoff, onLost: markLost });
  // An abandoned handler may never return: its lock must not be kept alive (nor the process) for it.
  const onAbandon = () => {
    keeper.stop();
    controller.abort(o.abandon.reason);
  };
  o.abandon.addEventListener('abort', onAbandon, { once: true });
  const ctx = taskContext(task, o, keeper, controller.signal, markLost);
  let result: { ok: true; output: unknown } | { ok: false; error: unknown };
  keeper.start();
  try {
    if (!handler) throw Object.assign(new Error(`no handler for capability "${task.capability}"`), { code: 'NO_HANDLER', retryable: false });
    result = { ok: true, output: await handler(task, ctx) };
  } catch (error) {
    result = { ok: false, error };
  } finally {
    keeper.stop();
    o.abandon.removeEventListener('abort', onAbandon);
  }

  fields.ms = Date.now() - started;
  if (lost) {
    o.logger.warn('task dropped: no longer ours', { ...fields, reason: String(controller.signal.reason) });
    return 'lost';
  }
  if (o.abandon.aborted) {
    o.logger.warn('task abandoned at shutdown; its lock will expire', fields);
    return 'abandoned';
  }
  if (result.ok) {
    const output = result.output;
    const sent = await report(o, () => o.client.complete(task.taskId, { lockToken: task.lockToken, output }));
    if (sent.sent) {
      o.logger.info('task completed', fields);
      return 'completed';
    }
    if (sent.why !== 'refused') return unreported(o, fields, sent);
    // The API refused the output itself (too large, say): fail the task rather than leave it locked
    // until it expires and is retried into the same refusal.
    result = { ok: false, error: { message: `output refused by the API: ${String(sent.error)}`, code: 'OUTPUT_REFUSED', retryable: false } };
  }
  const failure = describeFailure(result.error);
  const sent = await report(o, () => o.client.fail(task.taskId, { lockToken: task.lockToken, ...failure }));
  if (!sent.sent) return unreported(o, fields, sent);
  o.logger.info('task failed', { ...fields, error: failure.error.message, code: failure.error.code, retryable: failure.retryable });
  return 'failed';
}

function taskContext(task: PolledTask, o: TaskRunOptions, keeper: LockKeeper, signal: AbortSignal, markLost: (err: unknown) => void): TaskContext {
  return {
    signal,
    extend: (lockMs) => keeper.extendNow(lockMs),
    async progress(percent, message) {
      try {
        await o.client.progress(task.taskId, { lockToken: task.lockToken, percent, ...(message ? { message: message.slice(0, MAX_MESSAGE) } : {}) });
      } catch (err) {
        const kind = classifyRefusal(err).kind;
        if (kind === 'lost') markLost(err);
        if (kind !== 'transient') throw err;
        o.logger.warn('could not report progress', { taskId: task.taskId, error: String(err) });
      }
    },
  };
}

/**
 * Sends a complete or fail, retrying network faults and 503s for up to one lock duration: past it
 * the lock has expired and the task may be someone else's, which the server would say with a 409.
 */
async function report(o: TaskRunOptions, send: () => Promise<void>): Promise<Report> {
  const deadline = Date.now() + o.lockMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await send();
      return { sent: true };
    } catch (error) {
      const kind = classifyRefusal(error).kind;
      if (kind === 'lost') return { sent: false, why: 'lost', error };
      if (kind === 'rejected') return { sent: false, why: 'refused', error };
      if (kind !== 'transient' || Date.now() >= deadline || o.abandon.aborted) return { sent: false, why: 'gave-up', error };
      await sleep(backoffDelay(attempt, o.backoff), o.abandon);
    }
  }
}

function unreported(o: TaskRunOptions, fields: Fields, report: Report & { sent: false }): 'lost' | 'unreported' {
  if (report.why === 'lost') {
    o.logger.warn('task dropped: lock lost before its report', { ...fields, error: String(report.error) });
    return 'lost';
  }
  o.logger.error('could not report the task; its lock will expire', { ...fields, error: String(report.error) });
  return 'unreported';
}

/** Turns whatever a handler threw into the protocol's `{ error, retryable }`. */
export function describeFailure(thrown: unknown): Omit<FailRequest, 'lockToken'> {
  const e = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as { message?: unknown; code?: unknown; retryable?: unknown };
  const message = (typeof e.message === 'string' && e.message ? e.message : String(thrown)) || 'task handler failed';
  const code = typeof e.code === 'string' && e.code ? e.code.slice(0, MAX_CODE) : undefined;
  return {
    error: { message: message.slice(0, MAX_MESSAGE), ...(code ? { code } : {}) },
    ...(e.retryable === false ? { retryable: false } : {}),
  };
}
