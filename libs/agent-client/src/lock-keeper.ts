import { AgentClient } from './agent-client';
import { AgentLogger } from './agent-logger';
import { backoffDelay, BackoffOptions } from './backoff';
import { PolledTask } from './protocol.types';
import { classifyRefusal } from './refusals';

export interface LockKeeperOptions {
  client: AgentClient;
  task: PolledTask;
  lockMs: number;
  logger: AgentLogger;
  backoff?: BackoffOptions;
  /** The server says the task is no longer ours (409 LOCK_LOST / TASK_CANCELLED, 404). */
  onLost(err: unknown): void;
}

/**
 * Keeps a running task's lock alive: extends it at about half of its duration, so that one failed
 * extension still leaves time for retries before the lock expires and the task goes to another
 * instance (which the fencing token would then make this instance's work useless).
 */
export class LockKeeper {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private lockMs: number;

  constructor(private readonly o: LockKeeperOptions) {
    this.lockMs = o.lockMs;
  }

  start(): void {
    this.schedule(this.lockMs / 2);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Extends now to `lockMs` (default: the current duration); throws what the server answered. */
  async extendNow(lockMs = this.lockMs): Promise<{ lockedUntil: string }> {
    clearTimeout(this.timer);
    const { client, task } = this.o;
    try {
      const res = await client.extend(task.taskId, { lockToken: task.lockToken, lockMs });
      this.lockMs = lockMs;
      this.failures = 0;
      this.schedule(lockMs / 2);
      return res;
    } catch (err) {
      const refusal = classifyRefusal(err);
      if (refusal.kind === 'lost') this.o.onLost(err);
      // Retry well before the lock runs out, with the duration that last worked; a refusal that is
      // not about this task is retried too, as giving up would surely lose the lock.
      else this.schedule(Math.min(backoffDelay(this.failures++, this.o.backoff), this.lockMs / 8));
      throw err;
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.extendNow().catch((err: unknown) => {
        if (this.stopped || classifyRefusal(err).kind === 'lost') return;
        this.o.logger.warn('could not extend the task lock; retrying', { taskId: this.o.task.taskId, error: String(err) });
      });
    }, ms);
  }
}
