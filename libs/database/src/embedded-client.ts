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
  private holderStatement = '';
  private readonly waiters: (() => void)[] = [];

  /**
   * A caller that waits for the session while it holds it through another connection (a read on the
   * pool inside an open transaction) waits forever: such a wait is reported, naming the statement
   * that holds the session, instead of staying silent.
   */
  async acquire(owner: object, statement: string): Promise<void> {
    if (this.holder !== undefined && this.holder !== owner) {
      const report = setTimeout(() => {
        process.emitWarning(
          `embedded PostgreSQL: a statement has waited ${STALL_REPORT_MS / 1000} s for the session, held by a connection whose last statement was: ${this.holderStatement.slice(0, 200)}`,
        );
      }, STALL_REPORT_MS);
      report.unref();
      try {
        while (this.holder !== undefined && this.holder !== owner) await new Promise<void>((resolve) => this.waiters.push(resolve));
      } finally {
        clearTimeout(report);
      }
    }
    this.holder = owner;
    this.holderStatement = statement;
  }

  release(owner: object): void {
    if (this.holder !== owner) return;
    this.holder = undefined;
    this.waiters.shift()?.();
  }
}

const tokens = new Map<string, SessionToken>();
const STALL_REPORT_MS = 10_000;

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
      const statement = typeof config === 'string' ? config : typeof config?.text === 'string' ? config.text : '';
      const run = token.acquire(this, statement).then(() => (super.query as any)(unnamed, ...rest));
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
