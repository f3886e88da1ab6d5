import type { SingleBar } from 'cli-progress';
import { printLine } from './output';

/** A progress bar on stderr for the long waits (`sagas watch`, `projections rebuild --wait`). */
export interface Progress {
  /** Whether a bar is drawn at all (callers skip work that only feeds it). */
  readonly active: boolean;
  update(value: number, total: number, status: string): void;
  /** A line for people, on stdout, printed above the bar. */
  log(line: string): void;
  /** Removes the bar (a TTY) or prints its last state (`--progress` on a pipe). */
  stop(): void;
}

/**
 * `mode`: `true` (`--progress`) draws the bar even when stderr is not a terminal (one line a
 * second), `false` (`--no-progress`) never; `undefined` draws it when stderr is a terminal. The bar
 * never touches stdout, so `--json` output stays parseable.
 */
export function createProgress(mode: boolean | undefined, unit: string): Progress {
  if (!(mode ?? process.stderr.isTTY === true)) return { active: false, update() {}, log: printLine, stop() {} };
  // Loaded here: a command that shows no bar never pays for it.
  const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress');
  const tty = process.stderr.isTTY === true;
  const bar: SingleBar = new SingleBar(
    {
      stream: process.stderr,
      format: `{bar} {percentage}% | {value}/{total} ${unit} | {status}`,
      barsize: 30,
      hideCursor: false,
      clearOnComplete: tty,
      noTTYOutput: !tty,
      notTTYSchedule: 1000,
      // Its own SIGINT handler would stop the bar but keep the process running: see below.
      gracefulExit: false,
    },
    Presets.shades_classic,
  );
  let state = { value: 0, total: 1, status: '' };
  let running = false;
  // Ctrl-C: put the terminal back (cursor, line wrapping) before leaving as Ctrl-C does.
  const interrupted = () => {
    if (running) bar.stop();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  const draw = () => {
    bar.start(state.total, state.value, { status: state.status });
    running = true;
  };
  return {
    active: true,
    update(value, total, status) {
      state = { total: Math.max(total, 1), value: Math.min(Math.max(value, 0), Math.max(total, 1)), status };
      if (!running) return draw();
      bar.setTotal(state.total);
      bar.update(state.value, { status });
    },
    log(line) {
      // On a terminal the bar is taken down for the line and drawn again below it.
      if (running && tty) {
        bar.stop();
        printLine(line);
        draw();
      } else printLine(line);
    },
    stop() {
      if (running) bar.stop();
      running = false;
      process.removeListener('SIGINT', interrupted);
    },
  };
}
