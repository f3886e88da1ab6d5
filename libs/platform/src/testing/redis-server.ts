import { ChildProcess, spawn } from 'child_process';
import { createServer, Socket } from 'net';
import { Redis } from 'ioredis';
import { waitFor } from './wait-for';

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when something on the port answers PING with PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/**
 * A redis-server process of the spec's own, without persistence, so that a spec can flush it, kill
 * it and start it again on the same port without touching the Redis other spec files share.
 */
export class RedisServer {
  private process?: ChildProcess;

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  /** Starts the server (again) on its port, empty, and resolves once it answers. */
  async restart(): Promise<void> {
    if (this.process) throw new Error(`redis-server on ${this.port} is already running`);
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let exited = false;
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk.toString()));
    child.once('exit', () => (exited = true));
    this.process = child;
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`redis-server exited: ${stderr.trim()}`);
          return pings(this.port);
        },
        { what: `redis-server on port ${this.port} to answer`, timeoutMs: 10_000 },
      );
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  /** SIGKILL: the server and everything it held are gone at once, as in a crash. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** FLUSHALL through a connection of its own. */
  async flushAll(): Promise<void> {
    const admin = this.client();
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
  }

  /** Subscribers of a channel (PUBSUB NUMSUB). */
  async subscribers(channel: string): Promise<number> {
    const admin = this.client();
    try {
      const reply = (await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      return Number(reply[1]);
    } finally {
      admin.disconnect();
    }
  }

  /** A plain connection that fails fast instead of waiting for the server (close it with disconnect()). */
  client(): Redis {
    const redis = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    return redis;
  }
}
