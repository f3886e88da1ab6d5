import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as net from 'net';
import { resolve } from 'path';

const REPO_ROOT = resolve(__dirname, '..', '..');

export interface PlatformProcess {
  baseUrl: string;
  adminKey: string;
  pid: number;
  /** The last lines the process wrote (stdout and stderr), for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the platform as `npm start` runs it with DATABASE_URL set — API and worker in one process
 * (`node -r @swc-node/register apps/api/src/main.ts`), a child of the benchmark on a free port of
 * 127.0.0.1 — against `databaseUrl` (a fresh benchmark database: the process migrates it), with a
 * generated ADMIN_API_KEY, DB_POOL_SIZE = the run's pool size, LOG_LEVEL=warn (no request lines;
 * the peers log nothing either) and no REDIS_URL (one process: the in-memory bus delivers the
 * wake-ups). Everything else is the platform's default (e.g. WORKER_CONCURRENCY 128). Resolves
 * once GET /ready answers 200. `stop()` sends SIGTERM to this child (by pid) and waits for it.
 */
export async function startPlatform(
  databaseUrl: string,
  options: { poolSize: number; env?: Record<string, string>; readyTimeoutMs?: number; log?: (line: string) => void },
): Promise<PlatformProcess> {
  const port = await freePort();
  const adminKey = `sk_admin_bench_${randomBytes(18).toString('base64url')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ADMIN_API_KEY: adminKey,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: String(options.poolSize),
    REDIS_URL: '',
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  // Warnings and errors are passed on (the first 20; then one line per 100 more).
  let logged = 0;
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      if (!/"level":\s*(40|50|60)|error|warn/i.test(line)) continue;
      logged++;
      if (logged <= 20) options.log?.(line.slice(0, 500));
      else if (logged % 100 === 0) options.log?.(`${logged} warning/error lines so far; the latest: ${line.slice(0, 300)}`);
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      r();
    }),
  );
  const tail = () => lines.join('\n');
  const stop = async () => {
    if (exited || child.pid === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, 20_000);
    await exit;
    clearTimeout(timer);
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  try {
    for (;;) {
      if (exited) throw new Error(`the platform exited during start-up (code ${exited.code}, signal ${exited.signal}):\n${tail()}`);
      if (Date.now() > deadline) throw new Error(`the platform did not answer 200 on /ready within ${(options.readyTimeoutMs ?? 120_000) / 1000} s:\n${tail()}`);
      const status = await fetch(`${baseUrl}/ready`)
        .then((r) => r.status)
        .catch(() => 0);
      if (status === 200) break;
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, adminKey, pid: child.pid!, tail, stop };
}
