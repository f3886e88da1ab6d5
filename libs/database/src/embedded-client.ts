import { Client, ClientConfig } from 'pg';

/**
 * Embedded PGlite has ONE database session; pglite-socket multiplexes connections onto it message
 * by message, keeping a transaction's messages together but not the Parse/Bind/Execute/Sync of an
 * extended-protocol query outside one, and prepared-statement names are shared by everybody. This
 * client makes that safe: a connection holds the session from its first message until the server
 * reports it idle again (ReadyForQuery 'I', i.e. after the query, or after COMMIT/ROLLBACK), and
 * statements are never named.
 */
class SessionToken {
  private holder?: object;
  private readonly waiters: (() => void)[] = [];

  async acquire(owner: object): Promise<void> {
    while (this.holder !== undefined && this.holder !== owner) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.holder = owner;
  }

  release(owner: object): void {
    if (this.holder !== owner) return;
    this.holder = undefined;
    this.waiters.shift()?.();
  }
}

const tokens = new Map<string, SessionToken>();

export function embeddedClientClass(url: string): typeof Client {
  const key = new URL(url).host;
  const token = tokens.get(key) ?? new SessionToken();
  tokens.set(key, token);

  class EmbeddedSessionClient extends Client {
    constructor(config?: string | ClientConfig) {
      super(config);
      const connection = (this as unknown as { connection: NodeJS.EventEmitter }).connection;
      connection.on('readyForQuery', (msg: { status?: string }) => {
        if (msg.status === 'I') token.release(this);
      });
      this.on('end', () => token.release(this));
      this.on('error', () => token.release(this));
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(...args: any[]): any {
      const [config, ...rest] = args;
      const unnamed = config && typeof config === 'object' && 'name' in config ? { ...config, name: undefined } : config;
      const callback = typeof rest[rest.length - 1] === 'function' ? rest.pop() : undefined;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const run = token.acquire(this).then(() => (super.query as any)(unnamed, ...rest));
      if (!callback) return run;
      run.then(
        (result: unknown) => callback(null, result),
        (err: unknown) => callback(err),
      );
      return undefined;
    }
  }
  return EmbeddedSessionClient;
}
