import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  dbUrl: string;
  instance: string;
  projection: string;
  batchSize?: number;
  batchDelayMs?: number;
  leadershipRetryMs?: number;
  pollIntervalMs?: number;
}

const REPO_ROOT = path.resolve(__dirname, '../../../..');
const SCRIPT = path.join(__dirname, 'projection-child.ts');

/** A projection runner in a child process (see projection-child.ts), with its reports. */
export class ProjectionChild {
  readonly messages: ChildMessage[] = [];
  readonly exited: Promise<ChildExit>;
  stderr = '';
  private exit?: ChildExit;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly instance: string,
    private readonly proc: ChildProcess,
  ) {
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        this.messages.push(JSON.parse(line) as ChildMessage);
      } catch {
        this.messages.push({ type: 'text', line });
      }
      this.notify();
    });
    proc.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      }),
    );
  }

  static spawn(options: ChildOptions): ProjectionChild {
    const proc = spawn(process.execPath, ['-r', '@swc-node/register', SCRIPT], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PROJ_DB_URL: options.dbUrl,
        PROJ_INSTANCE: options.instance,
        PROJ_NAME: options.projection,
        PROJ_BATCH_SIZE: String(options.batchSize ?? 50),
        PROJ_BATCH_DELAY_MS: String(options.batchDelayMs ?? 0),
        PROJ_LEADERSHIP_RETRY_MS: String(options.leadershipRetryMs ?? 100),
        PROJ_POLL_MS: String(options.pollIntervalMs ?? 100),
      },
    });
    return new ProjectionChild(options.instance, proc);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get isLeader(): boolean {
    const changes = this.messages.filter((m) => m.type === 'leader');
    return changes.length > 0 && changes[changes.length - 1].leader === true;
  }

  count(type: string): number {
    return this.messages.filter((m) => m.type === type).length;
  }

  /**
   * The first message at index >= `from` matching `predicate`, as soon as it arrives. Rejects when
   * the process exits first or after `timeoutMs`.
   */
  next(predicate: (m: ChildMessage) => boolean, { from = 0, timeoutMs = 30_000, what = 'message' } = {}): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.slice(from).find(predicate);
        if (found) return done(() => resolve(found));
        if (this.exit) {
          return done(() =>
            reject(new Error(`${this.instance} exited (${JSON.stringify(this.exit)}) before ${what}; stderr: ${this.stderr}`)),
          );
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.instance}: no ${what} within ${timeoutMs} ms; stderr: ${this.stderr}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Kills the process (by its own pid) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.proc.kill(signal);
    return this.exited;
  }

  /** Graceful stop (SIGTERM: runner.stop(), pool.end()); SIGKILL if it does not end in time. */
  async stop(timeoutMs = 10_000): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
