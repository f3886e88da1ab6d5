import { Client, Pool } from 'pg';
import { openSessionClient } from '@app/database';
import { AGENT_TASKS_CHANNEL } from './postgres/agent-tasks';

/**
 * LISTENs for tasks queued by any process (NOTIFY on commit of the transition that queued them)
 * on a connection of its own, and wakes the long polls of that tenant. A lost connection is set up
 * again on the next `ensure()`; the waiters' own re-check covers the gap.
 */
export class QueueListener {
  private client?: Client;
  private connecting?: Promise<void>;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly wake: (tenantId: string) => void,
  ) {}

  ensure(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      const client = await openSessionClient(this.pool, (lost) => {
        if (this.client === lost) this.client = undefined;
      });
      client.on('notification', (n) => {
        if (n.channel === AGENT_TASKS_CHANNEL && n.payload) this.wake(n.payload);
      });
      await client.query(`listen ${AGENT_TASKS_CHANNEL}`);
      if (this.closed) await client.end().catch(() => undefined);
      else this.client = client;
    })()
      .catch(() => undefined)
      .finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
