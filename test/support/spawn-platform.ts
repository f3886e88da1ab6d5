import { ChildProcess, spawn } from 'child_process';
import { AddressInfo, createServer } from 'net';
import { join } from 'path';

/** A stop signal (SIGTERM, SIGINT) must end the platform within this long, or the test fails. */
export const GRACEFUL_STOP_MS = 15_000;
/**
 * A process still running this long after its stop signal is killed (SIGKILL), so that a failing
 * test leaves nothing behind. Well past GRACEFUL_STOP_MS: the failure then says whether the
 * process was merely slow or did not stop at all.
 */
const KILL_AFTER_MS = 45_000;

const REPO_ROOT = join(__dirname, '..', '..');

export interface PlatformExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
  });
}

/**
 * `npm start` as a newcomer runs it (`node -r @swc-node/register apps/api/src/main.ts`): no
 * DATABASE_URL, no REDIS_URL, no ADMIN_API_KEY, so the embedded PostgreSQL (PGlite) under
 * `dataDir` and the in-memory bus. The real process, with its signals and its exit.
 */
export class PlatformProcess {
  /** Spawned by this Jest worker and not yet exited. */
  private static readonly live = new Set<PlatformProcess>();
  readonly exited: Promise<PlatformExit>;
  private out = '';
  private exit?: PlatformExit;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly proc: ChildProcess,
  ) {
    const append = (chunk: Buffer) => {
      this.out += chunk.toString();
      this.notify();
    };
    proc.stdout!.on('data', append);
    proc.stderr!.on('data', append);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        PlatformProcess.live.delete(this);
        this.notify();
        resolve(this.exit);
      }),
    );
  }

  /** Spawns the process and returns at once (see `start` to wait until it listens). */
  static async spawn(dataDir: string): Promise<PlatformProcess> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    delete env.ADMIN_API_KEY;
    const proc = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new PlatformProcess(dataDir, port, proc);
    PlatformProcess.live.add(p);
    return p;
  }

  /**
   * For `afterAll`: kills (SIGKILL) whatever a failed or timed-out test left running, so that no
   * process outlives its test file. Only processes this worker spawned, each by its own pid.
   */
  static async killLeftovers(): Promise<void> {
    await Promise.all([...PlatformProcess.live].map((p) => p.kill()));
  }

  /** Spawns the process and waits for its "listening on" banner (rejects if it exits first). */
  static async start(dataDir: string, timeoutMs = 60_000): Promise<PlatformProcess> {
    const p = await PlatformProcess.spawn(dataDir);
    try {
      await p.untilOutput(/listening on/, { timeoutMs, what: 'the "listening on" banner' });
    } catch (err) {
      await p.kill();
      throw err;
    }
    return p;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  get output(): string {
    return this.out;
  }

  /** The admin key printed in the banner (generated once, kept under the data directory). */
  get adminKey(): string {
    const found = /(sk_admin_\S+)/.exec(this.out);
    if (!found) throw new Error(`no admin key in the output:\n${this.out}`);
    return found[1];
  }

  /** Resolves as soon as the output matches; rejects when the process exits first or after `timeoutMs`. */
  untilOutput(pattern: RegExp, { timeoutMs = 60_000, what = String(pattern) } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pattern.test(this.out)) return done(resolve);
        if (this.exit) return done(() => reject(new Error(`process ${this.pid} exited (${JSON.stringify(this.exit)}) before ${what}:\n${this.out}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`process ${this.pid}: no ${what} within ${timeoutMs} ms:\n${this.out}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the exit when it comes within `timeoutMs`, else undefined. */
  async exitWithin(timeoutMs: number): Promise<PlatformExit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends `signal` (the operator's Ctrl-C is SIGINT, a service manager's stop SIGTERM) and waits for
   * the exit. Throws when the process was still running GRACEFUL_STOP_MS later; it is then killed
   * (SIGKILL) at the latest KILL_AFTER_MS after the signal.
   */
  async stop(signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM'): Promise<PlatformExit> {
    if (this.exit) return this.exit;
    const sent = Date.now();
    this.proc.kill(signal);
    const graceful = await this.exitWithin(GRACEFUL_STOP_MS);
    if (graceful) return graceful;
    const late = await this.exitWithin(KILL_AFTER_MS - GRACEFUL_STOP_MS);
    if (late) {
      throw new Error(`process ${this.pid} exited only ${Date.now() - sent} ms after ${signal} (limit ${GRACEFUL_STOP_MS} ms):\n${this.tail()}`);
    }
    await this.kill();
    throw new Error(`process ${this.pid} ignored ${signal}: still running after ${KILL_AFTER_MS} ms, killed with SIGKILL:\n${this.tail()}`);
  }

  /** SIGKILL: no shutdown at all, as after a crash or an out-of-memory kill. */
  async kill(): Promise<PlatformExit> {
    if (this.exit) return this.exit;
    this.proc.kill('SIGKILL');
    return this.exited;
  }

  /** For failure messages: whether it still runs, and the last lines it wrote. */
  describe(lines = 30): string {
    const state = this.exit ? `exited ${JSON.stringify(this.exit)}` : 'running';
    return `process ${this.pid} (${state}), last output:\n${this.tail(lines)}`;
  }

  private tail(lines = 30): string {
    return this.out.trimEnd().split('\n').slice(-lines).join('\n');
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
