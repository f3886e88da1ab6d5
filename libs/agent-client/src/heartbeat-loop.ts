import { AgentClient } from './agent-client';
import { AgentLogger } from './agent-logger';
import { backoffDelay, BackoffOptions } from './backoff';
import { InstanceLoad } from './protocol.types';
import { AgentStopReason, classifyRefusal } from './refusals';

export interface HeartbeatLoopOptions {
  client: AgentClient;
  instanceId: string;
  logger: AgentLogger;
  load(): InstanceLoad;
  backoff?: BackoffOptions;
  /** A refusal that retrying cannot fix (key revoked, agent decommissioning). */
  onStop(reason: AgentStopReason, err: unknown): void;
}

/** Until the server has answered once; it then dictates the interval. */
const DEFAULT_INTERVAL_MS = 10_000;

/**
 * Keeps the instance live in the service registry: a heartbeat every `heartbeatIntervalMs` the server
 * returns (it marks an instance UNHEALTHY after 3 silent intervals and OFFLINE after 6, returning its
 * locked tasks to the queue). It runs apart from the poll loop so that a draining instance, which
 * no longer polls, still holds the locks of the tasks it is finishing.
 */
export class HeartbeatLoop {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private intervalMs = DEFAULT_INTERVAL_MS;
  private current?: Promise<boolean>;
  private readonly abort = new AbortController();
  private resolveFirst!: () => void;
  /** Resolves at the first accepted heartbeat: polling before it would be refused (409). */
  readonly firstAccepted = new Promise<void>((resolve) => (this.resolveFirst = resolve));

  constructor(private readonly o: HeartbeatLoopOptions) {}

  /** Sends one heartbeat now (or joins the one on its way); true when the server accepted it. */
  beat(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.current ??= this.send().finally(() => (this.current = undefined));
    return this.current;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  private async send(): Promise<boolean> {
    clearTimeout(this.timer);
    try {
      const res = await this.o.client.heartbeat({ instanceId: this.o.instanceId, load: this.o.load() }, { signal: this.abort.signal });
      if (res.heartbeatIntervalMs > 0) this.intervalMs = res.heartbeatIntervalMs;
      this.failures = 0;
      this.resolveFirst();
      this.schedule(this.intervalMs);
      return true;
    } catch (err) {
      if (this.stopped) return false;
      const refusal = classifyRefusal(err);
      if (refusal.kind === 'stop') {
        this.o.onStop(refusal.reason, err);
        return false;
      }
      this.o.logger.warn('heartbeat failed; retrying', { error: String(err) });
      // Retry sooner than the interval, so one lost heartbeat does not count as silence.
      this.schedule(Math.min(backoffDelay(this.failures++, this.o.backoff), this.intervalMs));
      return false;
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.beat(), ms);
  }
}
