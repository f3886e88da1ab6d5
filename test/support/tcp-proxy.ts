import { AddressInfo, connect, createServer, Server, Socket } from 'net';

export type OutageMode =
  /** The listener closes: new connections are refused (ECONNREFUSED), like a stopped server. */
  | 'refuse'
  /** The listener stays up but drops every new connection at once (ECONNRESET / connection ended). */
  | 'reset'
  /**
   * A network partition: TCP stays open and nothing comes back. Relayed connections stay open but
   * forward nothing either way; new connections are accepted and held (not connected upstream).
   * Bytes and closes that arrive meanwhile are kept and delivered by `restore()`, as TCP would once
   * the network heals.
   */
  | 'blackhole';

/** One client connection and, once connected, its upstream peer. */
interface Link {
  client: Socket;
  upstream?: Socket;
  /** Held back while blackholed: bytes for the other side, in order. */
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** A side that closed while blackholed: its peer learns it on `restore()`. */
  clientGone: boolean;
  upstreamGone: boolean;
}

/**
 * A TCP relay in front of PostgreSQL, so that a test can take the database away from one
 * application (a network outage) without stopping the server every other test file shares.
 * `cut('refuse' | 'reset')` destroys every relayed connection and refuses or drops new ones;
 * `cut('blackhole')` keeps every connection open and stops forwarding; `restore()` relays again on
 * the same port (after a blackhole, delivering what was held back).
 */
export class TcpProxy {
  private server?: Server;
  private readonly links = new Set<Link>();
  private port = 0;
  private mode: 'relay' | OutageMode = 'relay';
  private accepted = 0;
  private trigger?: { at: number; mode: OutageMode; fired: (count: number) => void };

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

  /** Sockets open right now (client and upstream sides counted). */
  get openSockets(): number {
    let n = 0;
    for (const link of this.links) n += (link.client.destroyed ? 0 : 1) + (link.upstream && !link.upstream.destroyed ? 1 : 0);
    return n;
  }

  /** Client connections the listener accepted since the proxy started, whatever the mode. */
  get acceptedConnections(): number {
    return this.accepted;
  }

  /** The current mode: relaying, or the outage in force. */
  get state(): 'relay' | OutageMode {
    return this.mode;
  }

  /**
   * Takes the database away. `refuse` / `reset`: open connections are destroyed, new ones refused
   * or dropped. `blackhole`: everything stays open and nothing is forwarded.
   */
  async cut(mode: OutageMode = 'refuse'): Promise<void> {
    this.mode = mode;
    if (mode === 'blackhole') return;
    for (const link of this.links) this.destroy(link);
    if (mode === 'refuse') await this.unlisten();
  }

  /**
   * Cuts (`mode`) when the `count`-th connection since the proxy started arrives, before that
   * connection is relayed: the database drops at a chosen point of a client's start-up.
   * Resolves with the connection count once it happened.
   */
  cutOnConnection(count: number, mode: OutageMode = 'refuse'): Promise<number> {
    return new Promise((fired) => {
      this.trigger = { at: count, mode, fired };
    });
  }

  /** Relays again (on the same port); after a blackhole, forwards what was held back, both ways. */
  async restore(): Promise<void> {
    this.mode = 'relay';
    this.trigger = undefined;
    // In the same tick as the mode change, so nothing newer overtakes what was held back.
    for (const link of [...this.links]) this.heal(link);
    await this.listen();
  }

  async close(): Promise<void> {
    this.mode = 'refuse';
    this.trigger = undefined;
    for (const link of this.links) this.destroy(link);
    await this.unlisten();
  }

  private destroy(link: Link): void {
    link.client.destroy();
    link.upstream?.destroy();
    this.links.delete(link);
  }

  /** When `socket` (one end of `link`) errors or closes: the link goes, or during a blackhole it is marked `side`. */
  private onGone(link: Link, socket: Socket, side: 'clientGone' | 'upstreamGone'): void {
    const gone = () => {
      if (this.mode === 'blackhole') {
        // The peer cannot hear of it during a partition; it does once the network heals.
        link[side] = true;
        return;
      }
      this.destroy(link);
    };
    socket.on('error', gone);
    socket.on('close', gone);
  }

  private accept(client: Socket): void {
    const count = ++this.accepted;
    if (this.trigger && count >= this.trigger.at) {
      const { mode, fired } = this.trigger;
      this.trigger = undefined;
      // Synchronous part first (mode, open connections); closing the listener may finish later.
      void this.cut(mode);
      fired(count);
    }
    if (this.mode === 'refuse' || this.mode === 'reset') {
      client.destroy();
      return;
    }
    const link: Link = { client, toUpstream: [], toClient: [], clientGone: false, upstreamGone: false };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole' || !link.upstream) link.toUpstream.push(chunk);
      else link.upstream.write(chunk);
    });
    this.onGone(link, client, 'clientGone');
    // During a blackhole a new connection is held: it reaches the server only after `restore()`.
    if (this.mode === 'relay') this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    const upstream = connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') link.toClient.push(chunk);
      else link.client.write(chunk);
    });
    this.onGone(link, upstream, 'upstreamGone');
    for (const chunk of link.toUpstream.splice(0)) upstream.write(chunk);
  }

  /** The network is back for `link`: deliver what was held, then the closes that happened. */
  private heal(link: Link): void {
    if (!link.upstream) {
      // Held since the partition began: nothing reached the server yet.
      if (link.clientGone || link.client.destroyed) this.destroy(link);
      else this.connectUpstream(link);
      return;
    }
    const upstream = link.upstream;
    if (!upstream.destroyed && !link.upstreamGone) for (const chunk of link.toUpstream.splice(0)) upstream.write(chunk);
    if (!link.client.destroyed && !link.clientGone) for (const chunk of link.toClient.splice(0)) link.client.write(chunk);
    if (link.clientGone || link.client.destroyed) {
      // The client left during the partition: the server gets its last bytes, then the end.
      upstream.end(() => upstream.destroy());
      this.links.delete(link);
    }
    if (link.upstreamGone || upstream.destroyed) {
      link.client.end(() => link.client.destroy());
      this.links.delete(link);
    }
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
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
