import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { PolledTask } from '../protocol.types';

/** One request the fake answered, in arrival order. */
export interface RecordedCall {
  route: 'heartbeat' | 'poll' | 'complete' | 'fail' | 'extend' | 'progress';
  taskId?: string;
  body: Record<string, unknown>;
  status: number;
}

type Refusal = { status: number; code?: string };

/**
 * Just enough of the agent work protocol (API.md) over real HTTP for the SDK's specs: a queue that
 * long polls hand out, lock tokens that reports must carry, and refusals on demand (LOCK_LOST,
 * INSTANCE_OFFLINE, 401, 503). Not the server: no persistence, priorities or expiry.
 */
export class FakeWorkServer {
  readonly key = 'agent-key-1';
  readonly calls: RecordedCall[] = [];
  heartbeatIntervalMs = 10_000;
  private readonly queue: PolledTask[] = [];
  private readonly locks = new Map<string, string>();
  private readonly refusals = new Map<string, Refusal>();
  private readonly live = new Set<string>();
  private waitingPolls = 0;
  private revoked = false;
  private decommissioning = false;
  private readonly waiters = new Set<() => void>();
  private server?: Server;

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Queues a task; a waiting long poll gets it at once. */
  enqueue(input: unknown, capability = 'echo'): string {
    const taskId = randomUUID();
    this.queue.push({ taskId, lockToken: '', lockedUntil: '', sagaId: randomUUID(), capability, priority: 'NORMAL', attempt: 1, input });
    this.wake();
    return taskId;
  }

  /** The lock goes to "another instance": reports and extends with the old token get 409 LOCK_LOST. */
  loseLock(taskId: string): void {
    this.locks.set(taskId, randomUUID());
  }

  /** The next call to `route` (for a task: `complete:<taskId>` also works) answers this. */
  refuseNext(route: string, status: number, code?: string): void {
    this.refusals.set(route, { status, code });
  }

  /** Every call answers 401 from now on, as after decommissioning revoked the key. */
  revokeKey(): void {
    this.revoked = true;
  }

  /** Polls answer 409 AGENT_DECOMMISSIONING. */
  decommission(): void {
    this.decommissioning = true;
  }

  /** The instance is OFFLINE until its next heartbeat (its polls get 409 INSTANCE_OFFLINE). */
  markOffline(instanceId: string): void {
    this.live.delete(instanceId);
  }

  /** Long polls waiting for a task now. */
  openPolls(): number {
    return this.waitingPolls;
  }

  /** Tasks queued and not yet handed out. */
  pending(): number {
    return this.queue.length;
  }

  callsTo(route: RecordedCall['route'], taskId?: string): RecordedCall[] {
    return this.calls.filter((c) => c.route === route && (taskId === undefined || c.taskId === taskId));
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = (chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}) as Record<string, unknown>;
    const match = /^\/v1\/agent\/(?:(heartbeat)|tasks\/(poll)|tasks\/([^/]+)\/(complete|fail|extend|progress))$/.exec(req.url ?? '');
    if (!match || req.method !== 'POST') return this.send(res, 404, problem(404, 'no such route'));
    const route = (match[1] ?? match[2] ?? match[4]) as RecordedCall['route'];
    const taskId = match[3];
    const record = (status: number) => this.calls.push({ route, taskId, body, status });

    if (this.revoked || req.headers.authorization !== `Bearer ${this.key}`) return this.refuse(res, record, { status: 401 });
    const refusal = this.takeRefusal(route, taskId);
    if (refusal) return this.refuse(res, record, refusal);

    if (route === 'heartbeat') {
      this.live.add(String(body.instanceId));
      record(200);
      return this.send(res, 200, { agentId: 'agent-1', instanceId: body.instanceId, serviceStatus: 'HEALTHY', heartbeatIntervalMs: this.heartbeatIntervalMs });
    }
    if (route === 'poll') {
      if (this.decommissioning) return this.refuse(res, record, { status: 409, code: 'AGENT_DECOMMISSIONING' });
      if (!this.live.has(String(body.instanceId))) return this.refuse(res, record, { status: 409, code: 'INSTANCE_OFFLINE' });
      record(200);
      const tasks = await this.takeTasks(Number(body.maxTasks ?? 1), Number(body.waitMs ?? 0), res);
      return this.send(res, 200, { tasks });
    }
    if (this.locks.get(taskId) !== body.lockToken) return this.refuse(res, record, { status: 409, code: 'LOCK_LOST' });
    record(200);
    if (route === 'complete' || route === 'fail') this.locks.delete(taskId);
    if (route === 'extend') return this.send(res, 200, { lockedUntil: new Date(Date.now() + Number(body.lockMs)).toISOString() });
    return this.send(res, 200, {});
  }

  private takeRefusal(route: string, taskId?: string): Refusal | undefined {
    for (const key of [taskId ? `${route}:${taskId}` : undefined, route]) {
      const refusal = key && this.refusals.get(key);
      if (refusal) {
        this.refusals.delete(key);
        return refusal;
      }
    }
    return undefined;
  }

  /** Long poll: answers once tasks are queued, after `waitMs`, or when the client goes away. */
  private async takeTasks(maxTasks: number, waitMs: number, res: ServerResponse): Promise<PolledTask[]> {
    let gone = false;
    if (!this.queue.length && waitMs > 0) {
      this.waitingPolls++;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waitingPolls--;
          clearTimeout(timer);
          this.waiters.delete(done);
          res.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          gone = true;
          done();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(done);
        res.once('close', onClose);
      });
    }
    // A poller that went away locks nothing, as the real long poll does when its request aborts.
    if (gone) return [];
    return this.queue.splice(0, maxTasks).map((task) => {
      const lockToken = randomUUID();
      this.locks.set(task.taskId, lockToken);
      return { ...task, lockToken, lockedUntil: new Date(Date.now() + 60_000).toISOString() };
    });
  }

  private refuse(res: ServerResponse, record: (status: number) => void, refusal: Refusal): void {
    record(refusal.status);
    this.send(res, refusal.status, problem(refusal.status, 'refused by the fake', refusal.code));
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.destroyed) return;
    const type = status >= 400 ? 'application/problem+json' : 'application/json';
    res.writeHead(status, { 'content-type': type }).end(JSON.stringify(body));
  }
}

function problem(status: number, detail: string, code?: string): Record<string, unknown> {
  return { type: `https://saga-platform.dev/problems/${status}`, title: `HTTP ${status}`, status, detail, ...(code ? { code } : {}) };
}
