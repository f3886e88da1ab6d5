import { ChildProcess, execFile, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { Cluster, Redis } from 'ioredis';
import { waitFor } from '@app/database';
import { freePort } from './spawn-platform';

const run = promisify(execFile);

/** A connection to one node that fails fast instead of waiting for it (close it with disconnect()). */
function nodeClient(port: number): Redis {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}

/** Runs one command on one node through a connection of its own. */
async function onNode<T>(port: number, call: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = nodeClient(port);
  try {
    return await call(redis);
  } finally {
    redis.disconnect();
  }
}

/** One master of the cluster: a redis-server process on its port, its cluster config in the data directory. */
class ClusterNode {
  private process?: ChildProcess;

  constructor(
    readonly port: number,
    private readonly busPort: number,
    private readonly dir: string,
  ) {}

  get running(): boolean {
    return this.process !== undefined;
  }

  /**
   * Starts the process (again, with the same node id and slots from its cluster config file, and no
   * data). A master away longer than the node timeout (5 s) is marked failed, and the others then refuse
   * every command (full slot coverage is required): the specs' restarts take well under that.
   */
  async start(): Promise<void> {
    if (this.process) throw new Error(`redis-server on ${this.port} is already running`);
    const child = spawn(
      'redis-server',
      [
        '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
        '--cluster-enabled', 'yes', '--cluster-port', String(this.busPort),
        '--cluster-config-file', `nodes-${this.port}.conf`, '--cluster-node-timeout', '5000',
        '--appendonly', 'no', '--save', '',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let exited = false;
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk.toString()));
    child.once('exit', () => (exited = true));
    this.process = child;
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`redis-server exited: ${stderr.trim()}`);
          return (await onNode(this.port, (r) => r.ping())) === 'PONG';
        },
        { what: `redis-server on port ${this.port} to answer`, timeoutMs: 10_000 },
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** SIGKILL: the process and everything it held are gone at once, as in a crash. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/**
 * A Redis Cluster of a spec's own: three masters, no replicas (so a node that restarts keeps its slots,
 * without a failover, and comes back empty), no persistence, in a temporary directory. Same shape as
 * the platform's single `RedisServer` (url, kill, restart, flushAll), plus one node's restart.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: ClusterNode[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'saga-redis-cluster-'));
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < masters; i++) nodes.push(new ClusterNode(await freePort(), await freePort(), dir));
    const cluster = new RedisCluster(nodes, dir);
    try {
      for (const node of nodes) await node.start();
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
      await cluster.waitUntilOk();
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  /** The bus URL naming this cluster: the first node, the others as further seeds. */
  get url(): string {
    const [first, ...rest] = this.nodes;
    const seeds = rest.map((n) => `node=127.0.0.1:${n.port}`).join('&');
    return `redis+cluster://127.0.0.1:${first.port}${seeds ? `?${seeds}` : ''}`;
  }

  /** Every node runs. */
  get running(): boolean {
    return this.nodes.every((n) => n.running);
  }

  /** Every node crashes (SIGKILL): a whole-broker outage. */
  async kill(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  /** Starts the nodes that are down again (empty) and resolves once the cluster is whole. */
  async restart(): Promise<void> {
    for (const node of this.nodes) if (!node.running) await node.start();
    await this.waitUntilOk();
  }

  /**
   * One master crashes and starts again on its port with its cluster config: no failover (no
   * replicas), the node keeps its slots and comes back without its data. `whileDown` runs in between.
   */
  async restartNode(index: number, whileDown: () => Promise<unknown> = async () => undefined): Promise<void> {
    const node = this.nodes[index];
    await node.stop();
    await whileDown();
    await node.start();
    await this.waitUntilOk();
  }

  /** The index of the master that serves `key` (its hash tag's slot). */
  async nodeOf(key: string): Promise<number> {
    const port = this.nodes.find((n) => n.running)!.port;
    return onNode(port, async (redis) => {
      const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]]][];
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!owner) throw new Error(`no node serves slot ${slot}`);
      return this.nodes.findIndex((n) => n.port === Number(owner[2][1]));
    });
  }

  /** FLUSHALL on every master: the whole broker loses its data. */
  async flushAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => onNode(n.port, (r) => r.flushall())));
  }

  /** Subscribers of a (non-sharded) channel across the cluster: each node counts its own clients. */
  async subscribers(channel: string): Promise<number> {
    let total = 0;
    for (const node of this.nodes) {
      const reply = (await onNode(node.port, (r) => r.call('PUBSUB', 'NUMSUB', channel))) as [string, number];
      total += Number(reply[1]);
    }
    return total;
  }

  /** A cluster client for a spec's own checks (close it with disconnect()). */
  client(): Cluster {
    const cluster = new Cluster(
      this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { maxRetriesPerRequest: 0 }, clusterRetryStrategy: () => null },
    );
    cluster.on('error', () => undefined);
    return cluster;
  }

  /** Stops every node and removes the data directory. */
  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every node reports `cluster_state:ok` and agrees that all 16384 slots are served. */
  private async waitUntilOk(): Promise<void> {
    await waitFor(
      async () => {
        for (const node of this.nodes) {
          const info = await onNode(node.port, (r) => r.call('CLUSTER', 'INFO') as Promise<string>);
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
        }
        return true;
      },
      { what: 'the cluster to be ok on every node', timeoutMs: 30_000 },
    );
  }
}
