import { spawn, spawnSync } from 'child_process';
import { startApiOnly } from './support/api-only';
import { E2eContext } from './support/e2e-app';

jest.setTimeout(60_000);

/** promtool (Debian's `prometheus` package; .ci/run installs it when missing), or undefined. */
const promtool = ((): string | undefined => {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
})();
if (!promtool) console.warn('promtool not found (apt-get install prometheus): skipping `promtool check metrics` on /metrics');

/** Runs `promtool check metrics` on an exposition text: exit code and what it printed. */
function checkMetrics(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool!, ['check', 'metrics']);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('GET /metrics', () => {
  let ctx: E2eContext;
  let text: string;

  beforeAll(async () => {
    ctx = await startApiOnly();
    const res = await ctx.http().get('/metrics');
    expect(res.status).toBe(200);
    text = res.text;
  });
  afterAll(async () => ctx?.close());

  it('exports no gauge with a counter suffix (the process gauges without _total)', () => {
    expect(text).toMatch(/^# TYPE nodejs_active_handles gauge$/m);
    expect(text).not.toMatch(/^nodejs_active_(handles|requests|resources)_total/m);
  });

  (promtool ? it : it.skip)('passes `promtool check metrics`', async () => {
    expect(await checkMetrics(text)).toEqual({ code: 0, output: '' });
  });
});
