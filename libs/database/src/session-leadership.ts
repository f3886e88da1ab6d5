import { Client, Pool } from 'pg';

/**
 * A connection of its own, outside the pool, with the pool's settings (and, embedded, its client
 * class): for LISTEN and session-level advisory locks, which a pooled connection cannot keep.
 * `onLost` runs once when it breaks.
 */
export async function openSessionClient(pool: Pool, onLost: (client: Client) => void): Promise<Client> {
  const ClientClass = (pool as unknown as { Client?: typeof Client }).Client ?? Client;
  const client = new ClientClass(pool.options);
  client.on('error', () => {
    onLost(client);
    client.end().catch(() => undefined);
  });
  await client.connect();
  return client;
}

/**
 * One leader among the processes of a database: whoever holds the session advisory lock `lockKey`
 * on a connection of its own. A standby keeps its connection and asks again at each `lead()`; a
 * leader whose connection breaks loses the lock with it (the server frees it), so another process
 * takes over at its next `lead()`. On the embedded PGlite every connection is one session: the one
 * process there always leads.
 */
export class SessionLeadership {
  private session?: Client;
  private leading = false;

  constructor(
    private readonly pool: Pool,
    private readonly lockKey: number,
    private readonly log?: (message: string) => void,
    private readonly name = 'leadership',
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Whether this process leads now; tries to become the leader when it does not. */
  async lead(): Promise<boolean> {
    if (this.leading) return true;
    const session = this.session ?? (await this.connect());
    const { rows } = await this.onSession((s) => s.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [this.lockKey]));
    this.leading = rows[0].ok && this.session === session;
    if (this.leading) this.log?.(`${this.name} acquired`);
    return this.leading;
  }

  /** A query on the session; if it fails, the session (and with it any leadership) is given up. */
  async onSession<T>(fn: (session: Client) => Promise<T>): Promise<T> {
    const session = this.session;
    if (!session) throw new Error(`${this.name}: session lost`);
    try {
      return await fn(session);
    } catch (err) {
      this.drop(session);
      throw err;
    }
  }

  /** Gives the leadership up at once (ending the session frees the lock). */
  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.leading = false;
    await session?.end().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    this.session = await openSessionClient(this.pool, (client) => this.drop(client));
    return this.session;
  }

  private drop(client: Client): void {
    if (this.session !== client) return;
    if (this.leading) this.log?.(`${this.name} lost`);
    this.session = undefined;
    this.leading = false;
    client.end().catch(() => undefined);
  }
}
