import { hostname } from 'node:os';
import { AgentClient, AgentClientOptions } from './agent-client';
import { AgentClientError } from './agent-client.error';
import { AgentLogger, consoleAgentLogger } from './agent-logger';
import { backoffDelay, BackoffOptions, sleep } from './backoff';
import { HeartbeatLoop } from './heartbeat-loop';
import { PolledTask } from './protocol.types';
import { AgentStopReason, classifyRefusal } from './refusals';
import { handlerFor, TaskHandlers } from './task-handler';
import { runTask, TaskOutcome } from './task-runner';

export interface RunAgentOptions extends AgentClientOptions {
  /** Names this process in the service registry; default `<hostname>-<pid>`. */
  instanceId?: string;
  handlers: TaskHandlers;
  /** Tasks run at once (default 1). */
  concurrency?: number;
  /** Lock taken per task (default 60 000 ms); kept alive while the handler runs. */
  lockMs?: number;
  /** Long-poll wait (default 20 000 ms, at most 30 000). */
  waitMs?: number;
  /** How long `stop()` waits for in-flight tasks before abandoning them (default 30 000 ms). */
  drainTimeoutMs?: number;
  /** Stop gracefully on SIGTERM and SIGINT (default false: a library does not own the process). */
  handleSignals?: boolean;
  /** Aborting it is `stop()`. */
  signal?: AbortSignal;
  logger?: AgentLogger;
  /** Retry pacing after network faults and 503s. */
  backoff?: BackoffOptions;
}

export interface AgentStopped {
  reason: AgentStopReason;
  /** The refusal that stopped the instance, when it stopped by itself. */
  error?: unknown;
  /** In-flight tasks given up at the drain deadline (their locks expire and they are retried). */
  abandoned: number;
}

export interface AgentHandle {
  readonly instanceId: string;
  /** Stops polling, lets in-flight tasks finish (up to the drain deadline), then resolves. */
  stop(): Promise<AgentStopped>;
  /** Resolves once the instance has stopped, whether asked to or by itself (401, decommissioning). */
  readonly done: Promise<AgentStopped>;
  /** Tasks running now. */
  inFlight(): number;
}

/** At most 16 per poll (the protocol allows 100): smaller batches spread a burst over the instances. */
const MAX_TASKS_PER_POLL = 16;
/** Least time between two polls that found nothing, whatever `waitMs` says. */
const MIN_EMPTY_POLL_GAP_MS = 250;

/**
 * Runs handlers as an instance of the key's agent: heartbeats, long-polls for as many tasks as it has
 * free slots, runs each under a kept lock and reports its outcome, and drains gracefully on stop.
 * Network faults and 503s are retried with backoff; it stops by itself only when retrying cannot
 * help (401, 403, agent being decommissioned, a poll refused as malformed).
 */
export function runAgent(options: RunAgentOptions): AgentHandle {
  const instance = new AgentInstance(options);
  instance.start();
  return {
    instanceId: instance.instanceId,
    stop: () => instance.stop('stopped'),
    done: instance.done,
    inFlight: () => instance.running.size,
  };
}

class AgentInstance {
  readonly instanceId: string;
  /** Keyed by lock token: a task re-polled after its lock was lost is a new run. */
  readonly running = new Map<string, Promise<TaskOutcome>>();
  readonly done: Promise<AgentStopped>;
  private resolveDone!: (stopped: AgentStopped) => void;
  private stopping?: Promise<AgentStopped>;
  private readonly client: AgentClient;
  private readonly logger: AgentLogger;
  private readonly concurrency: number;
  private readonly lockMs: number;
  private readonly waitMs: number;
  private readonly heartbeat: HeartbeatLoop;
  /** Ends the poll loop: aborts the long poll in flight and any backoff pause. */
  private readonly halt = new AbortController();
  /** Ends the handlers still running at the drain deadline. */
  private readonly abandon = new AbortController();
  private slotFreed?: () => void;
  private loop?: Promise<void>;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.logger.info('signal received; draining', { signal: sig, inFlight: this.running.size });
    void this.stop('stopped');
  };

  constructor(private readonly o: RunAgentOptions) {
    this.instanceId = o.instanceId ?? defaultInstanceId();
    this.client = new AgentClient(o);
    this.logger = o.logger ?? consoleAgentLogger;
    this.concurrency = Math.max(1, Math.floor(o.concurrency ?? 1));
    this.lockMs = o.lockMs ?? 60_000;
    this.waitMs = Math.min(o.waitMs ?? 20_000, 30_000);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.heartbeat = new HeartbeatLoop({
      client: this.client,
      instanceId: this.instanceId,
      logger: this.logger,
      backoff: o.backoff,
      load: () => ({ inFlight: this.running.size }),
      onStop: (reason, err) => void this.stop(reason, err),
    });
  }

  start(): void {
    if (this.o.handleSignals) {
      process.once('SIGTERM', this.onSignal);
      process.once('SIGINT', this.onSignal);
    }
    if (this.o.signal?.aborted) return void this.stop('stopped');
    this.o.signal?.addEventListener('abort', () => void this.stop('stopped'), { once: true });
    this.logger.info('agent instance starting', { instanceId: this.instanceId, concurrency: this.concurrency });
    void this.heartbeat.beat();
    this.loop = this.pollLoop().catch((err: unknown) => {
      this.logger.error('poll loop crashed', { error: String(err) });
      void this.stop('crashed', err);
    });
  }

  stop(reason: AgentStopReason, error?: unknown): Promise<AgentStopped> {
    this.stopping ??= this.shutdown(reason, error);
    return this.stopping;
  }

  private async pollLoop(): Promise<void> {
    await Promise.race([this.heartbeat.firstAccepted, aborted(this.halt.signal)]);
    let failures = 0;
    while (!this.halt.signal.aborted) {
      const free = this.concurrency - this.running.size;
      if (free <= 0) {
        await this.slotFree();
        continue;
      }
      try {
        const tasks = await this.client.poll(
          { instanceId: this.instanceId, maxTasks: Math.min(free, MAX_TASKS_PER_POLL), waitMs: this.waitMs, lockMs: this.lockMs },
          { signal: this.halt.signal },
        );
        failures = 0;
        // Tasks that arrive while stopping are locked for us all the same: run them within the drain.
        for (const task of tasks) this.run(task);
        // A (mis)configured tiny wait must not turn the loop into a stream of requests.
        if (!tasks.length && this.waitMs < MIN_EMPTY_POLL_GAP_MS) await sleep(MIN_EMPTY_POLL_GAP_MS - this.waitMs, this.halt.signal);
      } catch (err) {
        if (this.halt.signal.aborted) break;
        await this.afterPollError(err, failures++);
      }
    }
  }

  private async afterPollError(err: unknown, failures: number): Promise<void> {
    const refusal = classifyRefusal(err);
    if (refusal.kind === 'stop') return void this.stop(refusal.reason, err);
    if (err instanceof AgentClientError && err.status === 400) return void this.stop('rejected', err);
    if (refusal.kind === 'offline') {
      this.logger.warn('poll refused: instance not live; heartbeating first', { error: String(err) });
      await this.heartbeat.beat();
      // The first retry is immediate; a server that keeps refusing is not hammered.
      if (failures > 0) await sleep(backoffDelay(failures - 1, this.o.backoff), this.halt.signal);
      return;
    }
    this.logger.warn('poll failed; backing off', { error: String(err), attempt: failures + 1 });
    await sleep(backoffDelay(failures, this.o.backoff), this.halt.signal);
  }

  private run(task: PolledTask): void {
    const handler = handlerFor(this.o.handlers, task.capability);
    const outcome = runTask(task, handler, {
      client: this.client,
      logger: this.logger,
      lockMs: this.lockMs,
      backoff: this.o.backoff,
      abandon: this.abandon.signal,
    })
      .catch((err: unknown) => {
        this.logger.error('task runner crashed', { taskId: task.taskId, error: String(err) });
        return 'unreported' as const;
      })
      .finally(() => {
        this.running.delete(task.lockToken);
        this.slotFreed?.();
      });
    this.running.set(task.lockToken, outcome);
  }

  private slotFree(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.slotFreed = undefined;
        this.halt.signal.removeEventListener('abort', wake);
        resolve();
      };
      this.slotFreed = wake;
      this.halt.signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** Stops polling, drains, then stops heartbeating: the locks stay ours while tasks finish. */
  private async shutdown(reason: AgentStopReason, error?: unknown): Promise<AgentStopped> {
    if (reason === 'decommissioning') this.logger.info('agent being decommissioned; stopping', { error: String(error) });
    else if (reason !== 'stopped') this.logger.error('agent instance stopping', { reason, error: String(error) });
    this.halt.abort();
    await this.loop;
    const drainMs = this.o.drainTimeoutMs ?? 30_000;
    const deadline = new AbortController();
    const drained = await Promise.race([
      Promise.allSettled([...this.running.values()]).then(() => true),
      sleep(drainMs, deadline.signal).then(() => false),
    ]);
    deadline.abort();
    const abandoned = drained ? 0 : this.running.size;
    if (!drained) {
      // Handlers see their signal abort; one that ignores it is not waited for.
      this.logger.warn('drain deadline passed; abandoning in-flight tasks', { abandoned, drainMs });
      this.abandon.abort(new Error('agent instance shut down'));
    }
    this.heartbeat.stop();
    process.removeListener('SIGTERM', this.onSignal);
    process.removeListener('SIGINT', this.onSignal);
    const stopped: AgentStopped = { reason, abandoned, ...(error === undefined ? {} : { error }) };
    this.logger.info('agent instance stopped', { instanceId: this.instanceId, reason, abandoned });
    this.resolveDone(stopped);
    return stopped;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** `<hostname>-<pid>`, within what the API accepts as an instance id (`[A-Za-z0-9_.:-]{1,200}`). */
export function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 180)}-${process.pid}`;
}
