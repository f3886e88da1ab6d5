import { Client, Pool } from 'pg';
import { isDatabaseUnavailable, SessionLeadership } from '@app/database';
import { failureBackoffMs, WakeableSleep } from '@app/event-store';
import { DomainCommandDispatcher } from '@app/sagas';
import { Clock, systemClock } from './clock';
import { fireSchedule, FireOutcome, ScheduleSagas } from './fire-schedule';
import { dueSchedules, nextFireAt } from './postgres/due-schedules';

// Advisory-lock key of the scheduler's leadership (one scheduler fires among the workers).
export const SCHEDULER_LOCK_KEY = 7_311_206;

/** Schedules looked at per round; a full round is followed by another at once. */
const BATCH = 100;

export interface SchedulerOptions {
  /** Default: the system clock. Specs drive fires through a manual one (and call `tick`). */
  clock?: Clock;
  /** Longest pause between two rounds of the leader (and between two tries of a standby to lead); default 1 s. */
  tickMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Each fire decided: started, skipped or failed (metrics). */
  onFire?: (outcome: Exclude<FireOutcome, 'nothing'>) => void;
}

/**
 * The scheduler: one leader among the workers (a session advisory lock held on a connection of its
 * own; when its process dies the session ends and a standby takes over within a tick) looks each
 * round at the schedules whose cron time has passed and fires each (fire-schedule.ts). Leadership
 * keeps the work in one place; correctness does not depend on it: every fire is decided on the
 * schedule's stream with the expected version and starts its saga with a deterministic idempotency
 * key, so a second leader for a moment (a partition) decides nothing twice and starts no saga twice.
 * A leader that starts after all workers were down fires each schedule's most recent missed time
 * once, then carries on with the next.
 */
export class Scheduler {
  private stopped = true;
  private loop?: Promise<void>;
  private readonly leadership: SessionLeadership;
  private readonly pause = new WakeableSleep();
  private readonly clock: Clock;

  constructor(
    private readonly pool: Pool,
    private readonly commands: DomainCommandDispatcher,
    private readonly sagas: ScheduleSagas,
    private readonly options: SchedulerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.leadership = new SessionLeadership(pool, SCHEDULER_LOCK_KEY, (m) => options.log?.(m), 'scheduler leadership');
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  private get tickMs(): number {
    return this.options.tickMs ?? 1000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pause.reset();
    this.loop = this.run();
  }

  /** Stops looking; ending the session gives the leadership to another worker at once. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.pause.cancel();
      await this.loop;
    }
    await this.close();
  }

  /** Look now (e.g. a schedule was created or resumed here). */
  wake(): void {
    this.pause.wake();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        this.pause.consume();
        const more = await this.tick();
        failures = 0;
        if (!more) await this.pause.sleep(await this.pauseMs());
      } catch (err) {
        failures++;
        this.options.log?.('scheduler round failed', { error: (err as Error).message });
        await this.pause.sleep(failureBackoffMs(failures), { wakeable: false });
      }
    }
  }

  /**
   * One round: when this process leads (or becomes the leader now), fires what is due by the clock.
   * Returns whether a full batch was due (look again at once). Specs call it directly.
   */
  async tick(): Promise<boolean> {
    if (!(await this.lead())) return false;
    const due = await this.onSession((s) => dueSchedules(s, this.clock.now(), BATCH));
    for (const { tenantId, scheduleId } of due) {
      if (this.stopped && this.loop) break;
      try {
        const outcome = await fireSchedule({ commands: this.commands, sagas: this.sagas, log: this.options.log }, tenantId, scheduleId, this.clock.now());
        if (outcome !== 'nothing') this.options.onFire?.(outcome);
      } catch (err) {
        // One schedule's trouble does not hold the others back; the database away ends the round.
        if (isDatabaseUnavailable(err)) throw err;
        this.options.log?.('schedule fire failed', { tenantId, scheduleId, error: (err as Error).message });
      }
    }
    return due.length === BATCH;
  }

  /** Until the next cron time of any schedule, at most a tick (a standby tries to lead again after it). */
  private async pauseMs(): Promise<number> {
    if (!this.leadership.isLeader) return this.tickMs;
    const now = this.clock.now();
    const next = await this.onSession((s) => nextFireAt(s, now));
    if (!next) return this.tickMs;
    // A few milliseconds past the cron time, so the round finds it due.
    return Math.max(5, Math.min(this.tickMs, next.getTime() - now.getTime() + 5));
  }

  /** Whether this process leads; tries to become the leader when no one is. */
  private async lead(): Promise<boolean> {
    if (!(await this.leadership.lead())) return false;
    if (this.stopped && this.loop) {
      await this.close();
      return false;
    }
    return true;
  }

  /** A query on the leadership session. */
  private onSession<T>(fn: (session: Client) => Promise<T>): Promise<T> {
    return this.leadership.onSession(fn);
  }

  private close(): Promise<void> {
    return this.leadership.close();
  }
}
