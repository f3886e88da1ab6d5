import { ChildProcess, spawn } from 'child_process';
import { createInterface } from 'readline';
import { RestartBackoff, restartDelayMs } from './restart-backoff';
import { AgentTypeCommand } from './runtime-config';

export type RuntimeLogLevel = 'info' | 'warn' | 'error';
/** Where the runtime's own messages and the children's output lines go. */
export type RuntimeLog = (line: string, level: RuntimeLogLevel) => void;

export type InstanceState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export interface InstanceSupervision {
  restartBackoff: RestartBackoff;
  stopGraceMs: number;
  /** A child that ran this long before crashing starts its backoff over. */
  stableAfterMs: number;
  log: RuntimeLog;
}

/**
 * One slot of the local runtime: keeps one child process running (restarting it with backoff when
 * it exits without being asked to) until `stop()`.
 */
export class InstanceProcess {
  private current?: { child: ChildProcess; startedAt: number; exited: Promise<void> };
  private restartTimer?: NodeJS.Timeout;
  private stopping = false;
  private crashesInARow = 0;
  private _state: InstanceState = 'starting';
  private _restarts = 0;

  constructor(
    readonly instanceId: string,
    private readonly command: AgentTypeCommand,
    private readonly env: NodeJS.ProcessEnv,
    private readonly supervision: InstanceSupervision,
  ) {}

  get state(): InstanceState {
    return this._state;
  }

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /** Restarts after crashes so far. */
  get restarts(): number {
    return this._restarts;
  }

  /** Spawns the child; resolves once it runs, or failed to (then a restart is scheduled). */
  start(): Promise<void> {
    return this.spawnChild();
  }

  /** SIGTERM, then SIGKILL after stopGraceMs; resolves once the child is gone. No more restarts. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const current = this.current;
    if (!current) {
      this._state = 'stopped';
      return;
    }
    this._state = 'stopping';
    current.child.kill('SIGTERM');
    let graceTimer: NodeJS.Timeout | undefined;
    const inGrace = await Promise.race([
      current.exited.then(() => true),
      new Promise<false>((resolve) => (graceTimer = setTimeout(() => resolve(false), this.supervision.stopGraceMs))),
    ]);
    clearTimeout(graceTimer);
    if (!inGrace) {
      this.say(`did not stop within ${this.supervision.stopGraceMs} ms of SIGTERM; sending SIGKILL`, 'warn');
      current.child.kill('SIGKILL');
      await current.exited;
    }
    this._state = 'stopped';
  }

  private spawnChild(): Promise<void> {
    const [file, ...args] = this.command.command;
    this._state = 'starting';
    // An argv array and no shell: nothing in the command is interpreted.
    const child = spawn(file, args, {
      cwd: this.command.cwd,
      env: this.env,
      shell: false,
      windowsHide: true,
      // stdin is a pipe that closes if the worker dies: an instance may exit on its end so as never to outlive it.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let ended!: () => void;
    const exited = new Promise<void>((resolve) => (ended = resolve));
    this.current = { child, startedAt: Date.now(), exited };
    this.forwardLines(child);

    let gone = false;
    const onGone = (why: string) => {
      if (gone) return;
      gone = true;
      ended();
      this.onExit(child, why);
    };
    child.once('exit', (code, signal) => onGone(signal ? `signal ${signal}` : `code ${code}`));
    return new Promise<void>((resolve) => {
      child.once('spawn', () => {
        if (!gone && this.current?.child === child && !this.stopping) this._state = 'running';
        resolve();
      });
      child.on('error', (err) => {
        // Before 'spawn' (e.g. ENOENT) no 'exit' follows; after it, an error is a failed kill and 'exit' will tell.
        if (child.pid === undefined) onGone(`failure to start: ${err.message}`);
        else this.say(`process error: ${err.message}`, 'warn');
        resolve();
      });
    });
  }

  private onExit(child: ChildProcess, why: string): void {
    const current = this.current;
    if (current?.child !== child) return;
    this.current = undefined;
    if (this.stopping) {
      this.say(`stopped (${why})`, 'info');
      return;
    }
    const ranMs = Date.now() - current.startedAt;
    if (ranMs >= this.supervision.stableAfterMs) this.crashesInARow = 0;
    this.crashesInARow += 1;
    const delay = restartDelayMs(this.crashesInARow, this.supervision.restartBackoff);
    this.say(`exited (${why}) after ${ranMs} ms; restarting in ${delay} ms`, 'warn');
    this._state = 'backoff';
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this._restarts += 1;
      void this.spawnChild();
    }, delay);
    this.restartTimer.unref();
  }

  private forwardLines(child: ChildProcess): void {
    const forward = (stream: NodeJS.ReadableStream | null, level: RuntimeLogLevel) => {
      if (!stream) return;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.say(line, level));
    };
    forward(child.stdout, 'info');
    forward(child.stderr, 'warn');
    // A child that exits while we write must not crash the worker with EPIPE.
    child.stdin?.on('error', () => undefined);
  }

  private say(line: string, level: RuntimeLogLevel): void {
    this.supervision.log(`[${this.instanceId}] ${line}`, level);
  }
}
