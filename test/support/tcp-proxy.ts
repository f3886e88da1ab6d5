import { AddressInfo, connect, createServer, Server, Socket } from 'net';

export type OutageMode =
  /** The listener closes: new connections are refused (ECONNREFUSED), like a stopped server. */
  | 'refuse'
  /** The listener stays up but drops every new connection at once (ECONNRESET / connection ended). */
  | 'reset';

/**
 * A TCP relay in front of PostgreSQL, so that a test can take the database away from one
 * application (a network outage) without stopping the server every other test file shares.
 * `cut()` destroys every relayed connection and refuses or drops new ones; `restore()` relays again
 * on the same port.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private mode: 'relay' | OutageMode = 'relay';

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy to the host and port of `targetUrl` (default: DATABASE_URL, else 127.0.0.1:5432). */
  static async start(targetUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const proxy = new TcpProxy(url.hostname || '127.0.0.1', Number(url.port || 5432));
    await proxy.listen();
    return proxy;
  }

  /** `url` (user, password, database, parameters kept) with the proxy's address as host and port. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Connections relayed right now (both sides counted). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Takes the database away: open connections are destroyed, new ones refused or dropped. */
  async cut(mode: OutageMode = 'refuse'): Promise<void> {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    if (mode === 'refuse') await this.unlisten();
  }

  /** Relays again (on the same port). */
  async restore(): Promise<void> {
    this.mode = 'relay';
    await this.listen();
  }

  async close(): Promise<void> {
    this.mode = 'refuse';
    for (const socket of this.sockets) socket.destroy();
    await this.unlisten();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      if (this.mode !== 'relay') {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(client);
      this.track(upstream);
      const both = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', both);
      upstream.on('error', both);
      client.on('close', both);
      upstream.on('close', both);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async unlisten(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
