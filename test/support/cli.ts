import { spawn } from 'child_process';
import { join, resolve } from 'path';

/** The `saga` launcher, as `npx saga` runs it. */
export const SAGA_BIN = join(resolve(__dirname, '..', '..'), 'bin', 'saga');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** SAGA_API_URL / SAGA_API_KEY (unset when absent). */
  url?: string;
  apiKey?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Kills the CLI after this long (default 60 s): a hung command fails its test instead of jest. */
  timeoutMs?: number;
}

/**
 * Runs `node bin/saga ...args` as a child process (pipes, not a terminal) with only the SAGA_*
 * variables given here, and resolves with its exit code and output whatever the code.
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const name of ['SAGA_API_URL', 'SAGA_API_KEY', 'SAGA_TENANT']) delete env[name];
  if (options.url) env.SAGA_API_URL = options.url;
  if (options.apiKey) env.SAGA_API_KEY = options.apiKey;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [SAGA_BIN, ...args], { env, cwd: options.cwd ?? resolve(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: signal ? null : code, stdout, stderr: signal ? `${stderr}\n[killed by ${signal} after ${options.timeoutMs ?? 60_000} ms]` : stderr });
    });
  });
}

/** The JSON lines of a streaming command's stdout (`sagas watch --json`, `events tail --json`). */
export const jsonLines = <T = Record<string, unknown>>(stdout: string): T[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
