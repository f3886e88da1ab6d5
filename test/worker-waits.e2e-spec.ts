import { ChildProcess, spawn } from 'child_process';
import { resolve } from 'path';
import { createTestDatabase, TestDatabase, waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';
import { TcpProxy } from './support/tcp-proxy';

/*
 * DESIGN.md "Failure promises at the edges": a worker started while the database is away waits and
 * retries, it does not exit. The real worker (`npm run start:worker`) runs as a child process and
 * reaches its database through a TCP proxy; the sagas are started by an API-only app that reaches
 * the database directly.
 */

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..');
/** The worker's "I am up" line (apps/worker/src/main.ts). */
const UP = /worker started/i;
/** How long the worker must keep waiting (not exit) while the database is away. */
const OUTAGE_MS = 8_000;
/** The promise: up within this long of the database's return. */
const UP_WITHIN_MS = 10_000;
/** A two-task saga on an idle worker takes well under this. */
const NORMAL_SAGA_MS = 10_000;
const KILL_AFTER_MS = 15_000;

/** `promise`'s value, or undefined once `ms` passed (the timer does not outlive the answer). */
async function orTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `node -r @swc-node/register apps/worker/src/main.ts` with its output kept and its exit awaited. */
class WorkerProcess {
  readonly exited: Promise<Exit>;
  exit?: Exit;
  private out = '';
  /** When the UP line was printed (Date.now()). */
  upAt?: number;

  constructor(readonly child: ChildProcess) {
    const append = (chunk: Buffer) => {
      this.out += chunk.toString();
      if (this.upAt === undefined && UP.test(this.out)) this.upAt = Date.now();
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    this.exited = new Promise((res) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        res(this.exit);
      }),
    );
  }

  static spawn(databaseUrl: string): WorkerProcess {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      WORKER_POLL_MS: '50',
      WORKER_CONCURRENCY: '8',
      DB_POOL_SIZE: '4',
      // As in production: what it says while it waits is part of the promise (NODE_ENV=test silences it).
      LOG_LEVEL: 'info',
    };
    delete env.NODE_ENV;
    // The in-memory bus: the worker finds work by polling; nothing else of the environment leaks in.
    delete env.REDIS_URL;
    delete env.ADMIN_API_KEY;
    delete env.PORT;
    return new WorkerProcess(spawn(process.execPath, ['-r', '@swc-node/register', 'apps/worker/src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves once the UP line is printed; rejects if the worker exits first or after `timeoutMs`. */
  async up(timeoutMs: number): Promise<number> {
    await waitFor(async () => {
      if (this.exit) throw new Error(`worker exited (${JSON.stringify(this.exit)}) before it came up:\n${this.out}`);
      return this.upAt !== undefined;
    }, { timeoutMs, intervalMs: 20 }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- worker output ---\n${this.out}`);
    });
    return this.upAt!;
  }

  /** Waits `ms`, or less if the worker exits meanwhile: its exit, if it did. */
  async survives(ms: number): Promise<Exit | undefined> {
    return orTimeout(this.exited, ms);
  }

  /** SIGTERM, then SIGKILL if still running after 15 s. */
  async stop(): Promise<Exit> {
    if (!this.running) return this.exit!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), KILL_AFTER_MS);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

describe('worker: waits for its database instead of exiting', () => {
  let target: TestDatabase;
  let api: E2eContext;
  let t: TenantKeys;
  const workers: WorkerProcess[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    target = await createTestDatabase({ poolSize: 2 });
    // No worker in this app: only the child process runs sagas.
    api = await startE2eApp({ worker: false, databaseUrl: target.url });
    t = await api.tenant();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const p of proxies) await p.close();
    await api?.close().catch(() => undefined);
    await target?.drop();
  });

  const proxyToDatabase = async () => {
    const proxy = await TcpProxy.start(target.url);
    proxies.push(proxy);
    return proxy;
  };

  const spawnWorker = (proxy: TcpProxy) => {
    const worker = WorkerProcess.spawn(proxy.urlFor(target.url));
    workers.push(worker);
    return worker;
  };

  const startSaga = async (name: string) => {
    const res = await api
      .http()
      .post('/v1/sagas/task-workflow')
      .set(bearer(t.client))
      .send({ name, tasks: [{ id: 'a', handler: 'echo', dependsOn: [], config: { name } }, { id: 'b', handler: 'noop', dependsOn: ['a'] }] });
    expect(res.status).toBe(202);
    return res.body.sagaId as string;
  };

  /** Resolves with the time the saga was seen COMPLETED; fails with its last status after `timeoutMs`. */
  const completed = async (sagaId: string, timeoutMs: number) => {
    let last = '';
    await waitFor(async () => {
      const res = await api.http().get(`/v1/sagas/${sagaId}`).set(bearer(t.client));
      last = `${res.status} ${res.body.status}`;
      return res.status === 200 && res.body.status === 'COMPLETED';
    }, { timeoutMs, intervalMs: 50 }).catch(() => undefined);
    return { at: Date.now(), last };
  };

  /**
   * The worker is away from its database for OUTAGE_MS and must still be running (whether it already
   * says it started, its loops retrying, or still waits to start); a saga started meanwhile waits.
   * Then the database returns: the worker is up within 10 s and runs the saga.
   */
  const expectWaitsThenComesUp = async (worker: WorkerProcess, proxy: TcpProxy, name: string) => {
    const exit = await worker.survives(OUTAGE_MS);
    expect({ exit, output: exit ? worker.output : '' }).toEqual({ exit: undefined, output: '' });
    const whileAway = worker.output;

    const sagaId = await startSaga(name);
    await proxy.restore();
    const restoredAt = Date.now();
    const upAt = await worker.up(UP_WITHIN_MS + 20_000);
    const done = await completed(sagaId, UP_WITHIN_MS + NORMAL_SAGA_MS + 10_000);
    const timings = { upAfterMs: upAt - restoredAt, completedAfterMs: done.at - restoredAt, saga: done.last };
    expect({ ...timings, upInTime: timings.upAfterMs <= UP_WITHIN_MS }).toEqual({ ...timings, upInTime: true });
    expect({ ...timings, completedInTime: timings.completedAfterMs <= UP_WITHIN_MS + NORMAL_SAGA_MS }).toEqual({ ...timings, completedInTime: true });
    expect(timings.saga).toBe('200 COMPLETED');
    expect(worker.running).toBe(true);

    // And keeps running sagas.
    const next = await startSaga(`${name}-after`);
    expect((await completed(next, NORMAL_SAGA_MS)).last).toBe('200 COMPLETED');

    // It said, while it waited, that the database was away (which words is its business).
    const said = whileAway
      .split('\n')
      .filter((line) => !UP.test(line))
      .join('\n');
    expect({ loggedTheOutage: /ECONNREFUSED|refused|unreachable|not reachable|unavailable|retry|waiting|connection/i.test(said), whileAway }).toEqual({
      loggedTheOutage: true,
      whileAway,
    });
  };

  it('a worker started while PostgreSQL refuses connections keeps waiting, and comes up within 10 s of its return', async () => {
    const proxy = await proxyToDatabase();
    await proxy.cut('refuse');
    const worker = spawnWorker(proxy);
    try {
      await expectWaitsThenComesUp(worker, proxy, 'started-while-refused');
    } finally {
      await worker.stop();
    }
  });

  it.each<[number, string]>([
    [2, 'its second connection: the migrations, today'],
    [3, 'its third connection: the first of its pools, after the migrations, today'],
  ])('a worker whose database drops during bootstrap (connection %i: %s) survives and comes up after the return', async (connection) => {
    const proxy = await proxyToDatabase();
    const cut = proxy.cutOnConnection(connection, 'refuse');
    const worker = spawnWorker(proxy);
    try {
      // Start-up compiles the TypeScript first: give it time to reach the database.
      const reached = (await orTimeout(Promise.race([cut, worker.exited.then((exit) => ({ exit }))]), 60_000)) ?? 'no connection within 60 s';
      expect({ reached, output: typeof reached === 'number' ? '' : worker.output }).toEqual({ reached: connection, output: '' });
      // The premise: the database went away before the worker was up.
      expect({ upBeforeCut: UP.test(worker.output), output: worker.output }).toEqual({ upBeforeCut: false, output: worker.output });
      await expectWaitsThenComesUp(worker, proxy, `dropped-at-connection-${connection}`);
    } finally {
      await worker.stop();
    }
  });
});
