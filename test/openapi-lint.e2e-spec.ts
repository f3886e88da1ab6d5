import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { promisify } from 'util';
import { startApiOnly } from './support/api-only';
import { E2eContext } from './support/e2e-app';

jest.setTimeout(120_000);

const run = promisify(execFile);
const root = resolve(__dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
// No telemetry, no update check: the lint runs offline.
const offline = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };

/** A client's use of an error body: compiles only when the 404 of GET /v1/sagas/{sagaId} has the problem schema. */
const CLIENT_SCRIPT = `import type { paths } from './api';
type NotFound = paths['/v1/sagas/{sagaId}']['get']['responses'][404]['content']['application/problem+json'];
export function detailOf(body: NotFound): string {
  const field: string | undefined = body.errors?.[0]?.field;
  return field === undefined ? body.detail : \`\${body.detail} (\${field})\`;
}
export const example: NotFound = { type: 'https://saga-platform.dev/problems/not-found', title: 'Not Found', status: 404, detail: 'saga not found' };
`;

/** Tools no one here wrote, run on the served document: redocly lint and an openapi-typescript client. */
describe('OpenAPI document, checked by redocly and openapi-typescript', () => {
  let ctx: E2eContext;
  let dir: string;
  let docPath: string;

  beforeAll(async () => {
    ctx = await startApiOnly();
    const res = await ctx.http().get('/docs-json');
    expect(res.status).toBe(200);
    dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    docPath = join(dir, 'openapi.json');
    writeFileSync(docPath, JSON.stringify(res.body, null, 2));
  });
  afterAll(async () => {
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes redocly lint (recommended rules) with no error', async () => {
    // redocly exits 1 on errors; the JSON report on stdout says which.
    const args = ['lint', docPath, '--config', join(root, 'redocly.yaml'), '--format', 'json'];
    const stdout = await run(bin('redocly'), args, { env: offline, cwd: dir }).then(
      (r) => r.stdout,
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string }[] };
    const errors = report.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message}`);
    const warnings = report.problems.filter((p) => p.severity !== 'error').map((p) => `${p.ruleId}: ${p.message}`);
    console.log(`redocly lint: ${report.totals.errors} errors, ${report.totals.warnings} warnings${warnings.map((w) => `\n  ${w}`).join('')}`);
    expect(errors).toEqual([]);
    expect(report.totals.errors).toBe(0);
  });

  const typecheck = async (doc: string): Promise<string> => {
    const sub = mkdtempSync(join(dir, 'client-'));
    await run(bin('openapi-typescript'), [doc, '-o', join(sub, 'api.d.ts')], { env: offline, cwd: sub });
    writeFileSync(join(sub, 'check.ts'), CLIENT_SCRIPT);
    const compilerOptions = { noEmit: true, strict: true, target: 'es2022', module: 'commonjs', types: [] };
    writeFileSync(join(sub, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    return run(bin('tsc'), ['-p', join(sub, 'tsconfig.json')], { cwd: sub }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout || String(err),
    );
  };

  it('gives a generated client typed error bodies', async () => {
    expect(await typecheck(docPath)).toBe('');
  });

  it('the client check fails when error responses have no schema (it can fail)', async () => {
    const doc = JSON.parse(readFileSync(docPath, 'utf8')) as { paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }> }>> };
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) for (const [code, r] of Object.entries(op.responses ?? {})) if (/^[45]/.test(code)) delete r.content;
    }
    const bare = join(dir, 'bare.json');
    writeFileSync(bare, JSON.stringify(doc));
    expect(await typecheck(bare)).toMatch(/check\.ts\(\d+,\d+\): error TS/);
  });
});
