import { Client, Pool } from 'pg';
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
      const ClientClass = (this.pool as unknown as { Client?: typeof Client }).Client ?? Client;
      const client = new ClientClass(this.pool.options);
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
        client.end().catch(() => undefined);
      });
      client.on('notification', (n) => {
        if (n.channel === AGENT_TASKS_CHANNEL && n.payload) this.wake(n.payload);
      });
      await client.connect();
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
