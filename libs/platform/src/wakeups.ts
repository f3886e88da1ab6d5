import { MessageBus } from '@app/messaging';

export const WORK_WAKE_CHANNEL = 'saga-wake-work';
export const EVENTS_WAKE_CHANNEL = 'saga-wake-events';
/** Agent tasks were queued: long polls look again. */
export const AGENT_TASKS_WAKE_CHANNEL = 'saga-wake-agent-tasks';

/**
 * Coalesces wake-up signals: at most one broker message per channel every `everyMs`, so a burst of
 * appends costs one PUBLISH, not one per append. A lost signal only delays a reader until its poll.
 */
export class Waker {
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly bus: MessageBus,
    private readonly everyMs = 10,
  ) {}

  signal(channel: string): void {
    this.pending.add(channel);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const channels = [...this.pending];
      this.pending.clear();
      for (const c of channels) this.bus.notify(c, '').catch(() => undefined);
    }, this.everyMs);
    this.timer.unref();
  }
}
