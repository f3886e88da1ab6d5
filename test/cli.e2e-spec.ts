import { randomUUID } from 'crypto';
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { promisify } from 'util';
import { Command } from 'commander';
import { waitFor } from '@app/database';
import { buildProgram } from '../apps/cli/src/program';
import { CliOptions, CliRun, jsonLines, runCli } from './support/cli';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { postSaga } from './support/sagas';

jest.setTimeout(120_000);

type SagaEvent = { type: string; version: number; streamId: string };

/** A port nothing listens on: taken from the kernel, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Runs `fn` over `items`, `limit` at a time (CLI processes on a small machine). */
async function inBatches<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += limit) out.push(...(await Promise.all(items.slice(i, i + limit).map(fn))));
  return out;
}

/** The `saga` CLI as a real child process (node bin/saga) against the platform listening on a real port. */
describe('saga CLI', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let url: string;
  let dir: string;
  /** task a (echo) whose compensation always fails, then b fails for good: COMPENSATION_FAILED after 5 attempts (~6 s). */
  let stuck: string;

  const saga = (args: string[], options: CliOptions = {}): Promise<CliRun> => runCli(args, { url, apiKey: t.operator, ...options });
  const startWorkflow = async (body: object): Promise<string> => {
    const res = await postSaga(ctx, t.client, 'task-workflow', body);
    expect(res.status).toBe(202);
    return res.body.sagaId as string;
  };
  /** Exit code and output in one value, so a failure shows what the CLI said. */
  const outcome = (r: CliRun) => ({ code: r.code, stderr: r.stderr.trim() });

  beforeAll(async () => {
    ({ ctx, t } = await startE2eAppWithTenants());
    url = await ctx.listen();
    dir = mkdtempSync(join(tmpdir(), 'saga-cli-'));
    // Started first: its compensation retries run while the other tests do.
    stuck = await startWorkflow({
      name: 'stuck',
      tasks: [
        { id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 }, compensation: { handler: 'fail', config: { message: 'cannot undo a' } } },
        { id: 'b', handler: 'fail', dependsOn: ['a'], retry: { maxAttempts: 1, backoffMs: 10 } },
      ],
    });
  });
  afterAll(async () => {
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers --help for the program and every command with exit 0, from any directory, without a key', async () => {
    const [top, group, watch, leaf] = await Promise.all([
      runCli(['--help'], { cwd: tmpdir() }),
      runCli(['sagas', '--help']),
      runCli(['sagas', 'watch', '--help']),
      runCli(['schedules', 'create', '--help']),
    ]);
    for (const r of [top, group, watch, leaf]) expect(outcome(r)).toEqual({ code: 0, stderr: '' });
    expect(top.stdout).toContain('Usage: saga');
    expect(top.stdout).toMatch(/Exit codes:[\s\S]*1 {2}the API refused[\s\S]*2 {2}usage error[\s\S]*3 {2}the API is unreachable[\s\S]*4 {2}a wait ended/);
    expect(top.stdout).toContain('SAGA_API_URL');
    expect(group.stdout).toMatch(/Usage: saga sagas[\s\S]*watch/);
    expect(watch.stdout).toMatch(/4 {2}the saga needs an operator: it ended COMPENSATION_FAILED[\s\S]*SUSPENDED/);
    expect(leaf.stdout).toContain('--cron <expression>');

    // The whole tree (in this process: the same commander help path for each of them).
    const program = buildProgram('test');
    const tree = (c: Command, path: string[]): string[][] => (c.commands.length ? c.commands.flatMap((sub) => tree(sub, [...path, sub.name()])) : [path]);
    const leaves = tree(program, []);
    expect(leaves.map((p) => p.join(' '))).toEqual([
      ...['list', 'show', 'events', 'compensations', 'watch', 'retry', 'skip', 'cancel', 'resume', 'compensate', 'signal'].map((c) => `sagas ${c}`),
      'events tail',
      'projections list',
      'projections rebuild',
      'dead-letters list',
      'dead-letters replay',
      'agents list',
      'agents show',
      'queues',
      ...['push', 'list', 'show'].map((c) => `definitions ${c}`),
      ...['list', 'show', 'create', 'pause', 'resume', 'delete'].map((c) => `schedules ${c}`),
    ]);
    for (const path of leaves) {
      const command = path.reduce((c, name) => c.commands.find((sub) => sub.name() === name)!, program);
      const help = command.helpInformation();
      expect(help).toContain(`Usage: saga ${path.join(' ')}`);
      expect(command.description()).not.toBe('');
      for (const option of ['--url <url>', '--key <key>', '--json', '--help']) expect({ path, has: help.includes(option) }).toEqual({ path, has: true });
    }
  });

  it('exits 2 on usage errors, naming the problem on stderr and printing nothing on stdout', async () => {
    const id = randomUUID();
    const cases: [string[], RegExp, CliOptions?][] = [
      [['sagas', 'frobnicate'], /unknown command 'frobnicate'/],
      [['sagas', 'list', '--frob'], /unknown option '--frob'/],
      [['sagas', 'show'], /missing required argument 'sagaId'/],
      [['sagas', 'skip', id, '--reason', 'x'], /required option '--step <step>' not specified/],
      [['sagas', 'list', '--status', 'DONE'], /Allowed choices are SCHEDULED, RUNNING/],
      [['sagas', 'list', '--limit', 'many'], /not a whole number/],
      [['sagas', 'signal', id, 'go', '--payload', '{nope'], /not JSON/],
      [['definitions', 'push', join(dir, 'missing.yaml')], /cannot read .*missing\.yaml: ENOENT/],
      [['sagas', 'list'], /no API key: set SAGA_API_KEY or pass --key/, { apiKey: undefined }],
      [[], /Usage: saga/],
    ];
    const runs = await inBatches(cases, 5, ([args, , options]) => saga(args, options));
    cases.forEach(([args, message], i) => {
      expect({ args, code: runs[i].code, stdout: runs[i].stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(runs[i].stderr).toMatch(message);
    });
  });

  it('exits 3 when the API cannot be reached, and 1 with the problem detail when it refuses (unknown id, role too low)', async () => {
    const unknown = randomUUID();
    const problem = await ctx.http().get(`/v1/sagas/${unknown}`).set(bearer(t.operator));
    expect(problem.status).toBe(404);
    const down = `http://127.0.0.1:${await closedPort()}`;
    const [unreachable, show, watch, events, notUuid, asClient, badKey] = await Promise.all([
      saga(['sagas', 'list', '--json'], { url: down }),
      saga(['sagas', 'show', unknown]),
      saga(['sagas', 'watch', unknown, '--json']),
      saga(['sagas', 'events', unknown, '--json']),
      saga(['sagas', 'show', 'not-a-uuid']),
      saga(['queues'], { apiKey: t.client }),
      saga(['queues'], { apiKey: 'sk_nope' }),
    ]);
    expect({ code: unreachable.code, stdout: unreachable.stdout }).toEqual({ code: 3, stdout: '' });
    expect(unreachable.stderr).toMatch(/cannot reach the API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    for (const r of [show, watch, events]) {
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
      expect(r.stderr).toBe(`saga: ${problem.body.detail} (HTTP 404 Not Found)\n`);
    }
    for (const [r, status] of [[notUuid, 400], [asClient, 403], [badKey, 401]] as const) {
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
      expect(r.stderr).toContain(`(HTTP ${status} `);
    }
  });

  it('pushes a workflow definition from YAML, lists and shows it; a second push of the same body changes nothing', async () => {
    const file = join(dir, 'greet.yaml');
    writeFileSync(
      file,
      ['name: cli-greet', 'description: pushed by the CLI test', 'tasks:', '  - id: hello', '    handler: echo', '    dependsOn: []', '    config:', '      greeting: "{{ input.who }}"', ''].join('\n'),
    );
    const pushed = await saga(['definitions', 'push', file]);
    expect(outcome(pushed)).toEqual({ code: 0, stderr: '' });
    expect(pushed.stdout).toBe('stored cli-greet version 1\n');
    // Pushed on every deploy: the latest version has this body already, nothing is stored.
    const again = await saga(['definitions', 'push', file]);
    expect(outcome(again)).toEqual({ code: 0, stderr: '' });
    expect(again.stdout).toBe('cli-greet version 1 already has this body: unchanged\n');
    const sameAsJson = await saga(['definitions', 'push', file, '--version', '1', '--json']);
    expect(outcome(sameAsJson)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(sameAsJson.stdout)).toMatchObject({ name: 'cli-greet', version: 1 });
    // Versions never change: another body under version 1 is the API's 409.
    writeFileSync(file, readFileSync(file, 'utf8').replace('pushed by the CLI test', 'changed'));
    const conflict = await saga(['definitions', 'push', file, '--version', '1']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/HTTP 409/);

    const [list, versions, body] = await Promise.all([
      saga(['definitions', 'list', '--json']),
      saga(['definitions', 'show', 'cli-greet', '--json']),
      saga(['definitions', 'show', 'cli-greet', '--version', 'latest']),
    ]);
    for (const r of [list, versions, body]) expect(outcome(r)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(list.stdout).items).toEqual([expect.objectContaining({ name: 'cli-greet', latestVersion: 1, description: 'pushed by the CLI test' })]);
    expect(JSON.parse(versions.stdout)).toMatchObject({ name: 'cli-greet', versions: [{ version: 1 }] });
    expect(body.stdout).toContain('greeting: "{{ input.who }}"');

    // Validated by the API like a start: an unknown handler is its 400, with the field.
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ name: 'cli-broken', tasks: [{ id: 'x', handler: 'no-such-handler', dependsOn: [] }] }));
    const refused = await saga(['definitions', 'push', broken]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(HTTP 400 Bad Request\)\n {2}tasks\[0\]\.handler: unknown handler no-such-handler/);
  });

  it('creates, shows, pauses, resumes and deletes a schedule', async () => {
    const created = await saga(['schedules', 'create', '--id', 'cli-nightly', '--cron', '30 2 * * *', '--timezone', 'Europe/Berlin', '--definition', 'cli-greet', '--input', '{"who":"ops"}', '--paused', '--json']);
    expect(outcome(created)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(created.stdout)).toMatchObject({ id: 'cli-nightly', cron: '30 2 * * *', timezone: 'Europe/Berlin', sagaType: 'task-workflow', paused: true, nextRunAt: null });

    const resumed = await saga(['schedules', 'resume', 'cli-nightly']);
    expect(outcome(resumed)).toEqual({ code: 0, stderr: '' });
    expect(resumed.stdout).toMatch(/^schedule cli-nightly resumed; next run \d{4}-/);
    const [shown, listed] = await Promise.all([saga(['schedules', 'show', 'cli-nightly', '--json']), saga(['schedules', 'list'])]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ paused: false, body: { definition: { name: 'cli-greet' }, input: { who: 'ops' } } });
    expect(listed.stdout).toMatch(/^cli-nightly +30 2 \* \* \* +Europe\/Berlin +task-workflow +no /m);
    expect((await saga(['schedules', 'pause', 'cli-nightly'])).code).toBe(0);

    const deleted = await saga(['schedules', 'delete', 'cli-nightly']);
    expect(outcome(deleted)).toEqual({ code: 0, stderr: '' });
    const gone = await saga(['schedules', 'show', 'cli-nightly']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/HTTP 404/);
  });

  it('resumes a SUSPENDED saga: watch exits 4 while it waits for an operator, 0 once resumed and COMPLETED', async () => {
    const sagaId = await startWorkflow({
      name: 'suspends',
      onFailure: 'suspend',
      tasks: [
        { id: 'prepare', handler: 'echo', dependsOn: [], config: { ok: true } },
        { id: 'charge', handler: 'fail', dependsOn: ['prepare'], config: { message: 'card declined' }, retry: { maxAttempts: 1, backoffMs: 10 } },
      ],
    });
    const waiting = await saga(['sagas', 'watch', sagaId]);
    expect(outcome(waiting)).toEqual({ code: 4, stderr: '' });
    expect(waiting.stdout).toMatch(/SagaSuspended +SUSPENDED: charge: card declined/);
    expect(waiting.stdout).toMatch(new RegExp(`saga ${sagaId} SUSPENDED \\(1/2 steps\\)\\n {2}it needs an operator: saga sagas resume ${sagaId}`));

    const resumed = await saga(['sagas', 'resume', sagaId, '--reason', 'card replaced', '--config', '{"failTimes":0}', '--watch']);
    expect(outcome(resumed)).toEqual({ code: 0, stderr: '' });
    expect(resumed.stdout).toMatch(new RegExp(`^saga ${sagaId}: resumed; now RUNNING`, 'm'));
    expect(resumed.stdout).toMatch(/StepSucceeded +charge succeeded/);
    expect(resumed.stdout).toMatch(new RegExp(`saga ${sagaId} COMPLETED \\(2/2 steps\\)\\n$`));

    // Refused by the API (422): the saga is no longer SUSPENDED.
    const late = await saga(['sagas', 'compensate', sagaId, '--reason', 'too late']);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/HTTP 422/);
  });

  it('signals a waiting saga, and cancels a running one (its completed step is compensated)', async () => {
    const waiting = await startWorkflow({ name: 'approval', tasks: [{ id: 'approve', handler: 'wait', dependsOn: [], config: { signal: 'approved' } }] });
    const signalled = await saga(['sagas', 'signal', waiting, 'approved', '--payload', '{"by":"ops"}', '--json']);
    expect(outcome(signalled)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(signalled.stdout)).toMatchObject({ sagaId: waiting, name: 'approved', accepted: true });
    const done = await saga(['sagas', 'watch', waiting, '--json']);
    expect(outcome(done)).toEqual({ code: 0, stderr: '' });
    expect(jsonLines<SagaEvent>(done.stdout).map((e) => e.type)).toEqual(expect.arrayContaining(['SignalReceived', 'SagaCompleted']));

    const slow = await startWorkflow({
      name: 'slow',
      tasks: [
        { id: 'prepare', handler: 'echo', dependsOn: [], config: {}, compensation: { handler: 'noop' } },
        { id: 'pause', handler: 'delay', dependsOn: ['prepare'], config: { ms: 60_000 } },
      ],
    });
    await waitFor(async () => (await ctx.http().get(`/v1/sagas/${slow}`).set(bearer(t.client))).body.steps?.some((s: { name: string; status: string }) => s.name === 'pause' && s.status === 'RUNNING'));
    const cancelled = await saga(['sagas', 'cancel', slow, '--reason', 'customer withdrew', '--watch', '--timeout', '30s']);
    expect(outcome(cancelled)).toEqual({ code: 0, stderr: '' });
    expect(cancelled.stdout).toMatch(/StepCompensated +prepare compensated/);
    expect(cancelled.stdout).toMatch(new RegExp(`saga ${slow} COMPENSATED`));
  });

  it('finds a COMPENSATION_FAILED saga, skips its stuck compensation, and watches it end COMPENSATED', async () => {
    // Follows it live until it parks: exit 4, one JSON event per line, in version order.
    const parked = await saga(['sagas', 'watch', stuck, '--json'], { timeoutMs: 90_000 });
    expect(outcome(parked)).toEqual({ code: 4, stderr: '' });
    const events = jsonLines<SagaEvent>(parked.stdout);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i));
    expect(events[0]).toMatchObject({ type: 'SagaStarted', streamId: `saga-${stuck}` });
    expect(events.at(-1)!.type).toBe('SagaCompensationFailed');
    expect(events.filter((e) => e.type === 'StepCompensationFailed')).toHaveLength(5);

    // The acceptance line: parseable JSON that lists it (the read model follows the stream).
    const listed = await waitFor(async () => {
      const r = await saga(['sagas', 'list', '--status', 'COMPENSATION_FAILED', '--json']);
      expect(outcome(r)).toEqual({ code: 0, stderr: '' });
      const page = JSON.parse(r.stdout) as { items: { sagaId: string; status: string; failedStep?: string }[] };
      return page.items.some((s) => s.sagaId === stuck) ? page : undefined;
    });
    expect(listed.items.find((s) => s.sagaId === stuck)).toMatchObject({ status: 'COMPENSATION_FAILED', failedStep: 'b' });
    const table = await saga(['sagas', 'list', '--status', 'COMPENSATION_FAILED']);
    expect(table.stdout).toMatch(/^SAGA +TYPE +STATUS +STEPS/);
    expect(table.stdout).toMatch(new RegExp(`^${stuck} +task-workflow +COMPENSATION_FAILED +0/2 +b `, 'm'));

    const log = await saga(['sagas', 'compensations', stuck, '--json']);
    expect(JSON.parse(log.stdout).entries.filter((e: { status: string }) => e.status === 'FAILED').map((e: { attempt: number }) => e.attempt)).toEqual([1, 2, 3, 4, 5]);
    const shown = await saga(['sagas', 'show', stuck]);
    expect(shown.stdout).toMatch(/^Status: +COMPENSATION_FAILED$/m);
    expect(shown.stdout).toMatch(/^a +COMPENSATION_FAILED +.*cannot undo a/m);

    const skipped = await saga(['sagas', 'skip', stuck, '--step', 'a', '--reason', 'released by hand']);
    expect(outcome(skipped)).toEqual({ code: 0, stderr: '' });
    expect(skipped.stdout).toMatch(new RegExp(`^saga ${stuck}: a's compensation skipped; now COMPENSAT`));

    const watched = await saga(['sagas', 'watch', stuck]);
    expect(outcome(watched)).toEqual({ code: 0, stderr: '' });
    expect(watched.stdout).toMatch(/CompensationSkipped +a's compensation skipped by key:\S+: released by hand/);
    expect(watched.stdout).toMatch(new RegExp(`saga ${stuck} COMPENSATED \\(\\d/2 steps\\)\\n$`));

    // Only a COMPENSATION_FAILED saga can be retried or skipped: the API's 422, exit 1.
    const again = await saga(['sagas', 'retry', stuck, '--reason', 'once more']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/HTTP 422/);
  });

  it('rebuilds a projection with --wait: progress on stderr, exit 0 once it is LIVE', async () => {
    const listed = await saga(['projections', 'list', '--json']);
    expect(outcome(listed)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'saga_summaries', status: expect.any(String) })]));

    const rebuilt = await saga(['projections', 'rebuild', 'saga_summaries', '--wait', '--progress'], { apiKey: t.admin, timeoutMs: 90_000 });
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stderr).toMatch(/\d+% \| \d+\/\d+ events \| (REBUILDING|LIVE|CATCHING_UP)/);
    expect(rebuilt.stderr).toMatch(/100% \| \d+\/\d+ events \| LIVE/);
    expect(rebuilt.stdout).toMatch(/^saga_summaries LIVE \(position \d+, lag \d+\) after /);

    // As people run it in a log (no terminal): each status, then how long it took.
    const plain = await saga(['projections', 'rebuild', 'saga_summaries', '--wait'], { apiKey: t.admin, timeoutMs: 90_000 });
    expect(outcome(plain)).toEqual({ code: 0, stderr: '' });
    expect(plain.stdout).toMatch(/^saga_summaries REBUILDING \(position \d+, lag \d+\)\n(.*\n)*saga_summaries LIVE \(position \d+, lag \d+\)\nrebuilt in \S+\n$/);

    const json = await saga(['projections', 'rebuild', 'saga_summaries', '--wait', '--json'], { apiKey: t.admin, timeoutMs: 90_000 });
    expect(outcome(json)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'saga_summaries', status: 'LIVE' });

    const asOperator = await saga(['projections', 'rebuild', 'saga_summaries']);
    expect(asOperator.code).toBe(1);
    expect(asOperator.stderr).toMatch(/HTTP 403/);
  });

  it('prints parseable JSON for queues, agents, dead letters and the global log', async () => {
    const [queues, agents, deadLetters] = await Promise.all([saga(['queues', '--json']), saga(['agents', 'list', '--json']), saga(['dead-letters', 'list', '--json'])]);
    for (const r of [queues, agents, deadLetters]) expect(outcome(r)).toEqual({ code: 0, stderr: '' });
    expect(Array.isArray(JSON.parse(queues.stdout))).toBe(true);
    expect(JSON.parse(agents.stdout)).toEqual({ items: [] });
    expect(Array.isArray(JSON.parse(deadLetters.stdout).items)).toBe(true);

    // The global log is read up to a horizon that waits for older transactions (gap safety): it may trail a little.
    type Logged = SagaEvent & { globalPosition: number };
    const tail = async (args: string[]) => {
      const r = await saga(['events', 'tail', '--no-follow', '--json', ...args]);
      expect(outcome(r)).toEqual({ code: 0, stderr: '' });
      return jsonLines<Logged>(r.stdout);
    };
    const log = await waitFor(async () => {
      const events = await tail(['--category', 'saga']);
      return events.some((e) => e.streamId === `saga-${stuck}` && e.type === 'SagaCompensated') ? events : undefined;
    });
    expect(log.every((e) => e.streamId.startsWith('saga-'))).toBe(true);
    const positions = log.map((e) => e.globalPosition);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // --after: only what follows that position.
    const after = await tail(['--category', 'saga', '--after', String(positions[positions.length - 2])]);
    expect(after[0]?.globalPosition).toBe(positions[positions.length - 1]);
    expect(after.every((e) => e.globalPosition > positions[positions.length - 2])).toBe(true);
  });

  it("keeps the CLI's generated API types in step with /docs-json (regenerate: npm run console:api)", async () => {
    const doc = await ctx.http().get('/docs-json');
    expect(doc.status).toBe(200);
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc.body));
    // A child process: openapi-typescript is an ES module that jest's runtime cannot require.
    const root = resolve(__dirname, '..');
    const check = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', join(root, 'apps/console/scripts/generate-api.ts'), '--check', file], { cwd: root }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    expect(check).toEqual({ code: 0, stderr: '' });
  });
});
