import { spawn } from 'child_process';
import { mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

jest.setTimeout(120_000);

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an entry point as `npm start` / `npm run start:worker` do, to its exit. */
function run(entry: string, vars: Record<string, string>, dataDir: string): Promise<Exit> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, ...vars };
  // Without DATABASE_URL `npm start` would boot the embedded PostgreSQL: the check must come first.
  delete env.DATABASE_URL;
  delete env.NODE_ENV;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', entry], { cwd: join(__dirname, '..'), env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 60 s (a bad value must stop it at once); output: ${stdout}${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** README "Configuration": a bad value stops the process with one line naming the variable. */
describe('a bad configuration value', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-config-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each([
    ['apps/api/src/main.ts', 'PORT', 'abc', 'PORT must be an integer from 1 to 65535 (got "abc")'],
    ['apps/api/src/main.ts', 'DB_POOL_SIZE', 'lots', 'DB_POOL_SIZE must be an integer from 1 to 1000 (got "lots")'],
    ['apps/worker/src/main.ts', 'DB_POOL_SIZE', 'lots', 'DB_POOL_SIZE must be an integer from 1 to 1000 (got "lots")'],
  ])('%s with %s=%s exits non-zero with one line on stderr', async (entry, name, value, expected) => {
    const exit = await run(entry, { [name]: value }, dataDir);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const lines = exit.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toEqual([`invalid configuration: ${expected}`]);
    expect(exit.stdout).toBe('');
    // Nothing started before the check: no embedded database, no generated admin key.
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
