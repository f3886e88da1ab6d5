import { waitFor } from '@app/database';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { LocalAgentRuntime, LocalInstanceView, LocalRuntimeTarget } from './local-runtime';
import { RuntimeLogLevel } from './instance-process';
import { loadRuntimeConfig } from './runtime-config';

/**
 * The local runtime with real child processes: a tiny Node script (the "agent") records the
 * environment it was given in `<instanceId>.json`, stays up until SIGTERM and then writes
 * `<instanceId>.stopped` (the `stubborn` variant ignores SIGTERM).
 */
const AGENT_SCRIPT = `
const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const id = process.env.SAGA_INSTANCE_ID;
const out = process.env.OUT_DIR;
const names = ['SAGA_API_URL', 'SAGA_AGENT_KEY', 'SAGA_AGENT_ID', 'SAGA_INSTANCE_ID', 'NODE_OPTIONS', 'OUT_DIR', 'SAGA_TEST_SECRET'];
const env = Object.fromEntries(names.map((n) => [n, process.env[n]]));
const heapLimitMb = v8.getHeapStatistics().heap_size_limit / 1024 / 1024;
// The handler first: once the file says "up", a SIGTERM must find it.
process.on('SIGTERM', () => {
  if (process.argv[2] === 'stubborn') return;
  fs.writeFileSync(path.join(out, id + '.stopped'), String(process.pid));
  process.exit(0);
});
fs.writeFileSync(path.join(out, id + '.json'), JSON.stringify({ pid: process.pid, startedAt: Date.now(), env, heapLimitMb }));
console.log('up as ' + id);
console.error('a warning from ' + id);
setInterval(() => {}, 60000);
`;

interface Recorded {
  pid: number;
  startedAt: number;
  env: Record<string, string | undefined>;
  heapLimitMb: number;
}

const AGENT_ID = '0a1b2c3d-0000-4000-8000-000000000001';
const PREFIX = AGENT_ID.slice(0, 8);
const BASE_MS = 300;

describe('LocalAgentRuntime (real child processes)', () => {
  let dir: string;
  let configPath: string;
  const logs: { line: string; level: RuntimeLogLevel }[] = [];
  const keyRequests: string[] = [];
  let runtime: LocalAgentRuntime;

  const target = (desired: number, over: Partial<LocalRuntimeTarget> = {}): LocalRuntimeTarget => ({
    agentId: AGENT_ID,
    tenantId: 'tenant-1',
    type: 'test',
    desired,
    resources: { cpuMillis: 250, memoryMb: 64 },
    ...over,
  });
  const recorded = (instanceId: string): Recorded => JSON.parse(readFileSync(join(dir, `${instanceId}.json`), 'utf8')) as Recorded;
  const stoppedGracefully = (instanceId: string) => existsSync(join(dir, `${instanceId}.stopped`));
  const slot = (instanceId: string): LocalInstanceView | undefined => runtime.instances().find((i) => i.instanceId === instanceId);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** The child of `instanceId` is up (its file names its current pid). */
  const upAgain = (instanceId: string, notPid?: number) =>
    waitFor(
      () => {
        const view = slot(instanceId);
        if (view?.state !== 'running' || view.pid === undefined || view.pid === notPid) return undefined;
        const file = recorded(instanceId);
        return file.pid === view.pid ? file : undefined;
      },
      { timeoutMs: 10_000, what: `${instanceId} running` },
    );

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-runtime-'));
    writeFileSync(join(dir, 'agent.js'), AGENT_SCRIPT);
    configPath = join(dir, 'agents.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        types: {
          test: { command: [process.execPath, 'agent.js'], env: { OUT_DIR: dir }, cwd: '.' },
          stubborn: { command: [process.execPath, join(dir, 'agent.js'), 'stubborn'], env: { OUT_DIR: dir } },
        },
      }),
    );
    // The worker's own secrets must not reach an instance.
    process.env.SAGA_TEST_SECRET = 'worker-only';
    runtime = new LocalAgentRuntime({
      config: loadRuntimeConfig(configPath),
      apiUrl: 'http://127.0.0.1:3999',
      issueKey: async (t) => {
        keyRequests.push(t.agentId);
        return `key-of-${t.agentId}`;
      },
      log: (line, level) => logs.push({ line, level }),
      restartBackoff: { baseMs: BASE_MS, maxMs: 5_000 },
      stopGraceMs: 5_000,
      stableAfterMs: 1_500,
    });
  });

  afterAll(async () => {
    await runtime?.stopAll();
    delete process.env.SAGA_TEST_SECRET;
    rmSync(dir, { recursive: true, force: true });
  });

  it('given desired 3, runs three processes with distinct instance ids and the protocol env', async () => {
    await runtime.reconcile([target(3)]);

    const ids = [1, 2, 3].map((n) => `${PREFIX}-${n}`);
    expect(runtime.instances().map((i) => i.instanceId)).toEqual(ids);
    const files = await Promise.all(ids.map((id) => upAgain(id)));
    expect(new Set(files.map((f) => f.pid)).size).toBe(3);
    files.forEach((file, i) => {
      expect(file.env).toEqual({
        SAGA_API_URL: 'http://127.0.0.1:3999',
        SAGA_AGENT_KEY: `key-of-${AGENT_ID}`,
        SAGA_AGENT_ID: AGENT_ID,
        SAGA_INSTANCE_ID: ids[i],
        NODE_OPTIONS: '--max-old-space-size=64',
        OUT_DIR: dir,
      });
      // The memory limit is the child's: Node's default heap limit is in the gigabytes.
      expect(file.heapLimitMb).toBeLessThan(256);
    });
    // Output lines reach the log, prefixed with the instance id; stderr as warnings.
    await waitFor(() => logs.some((l) => l.line === `[${ids[0]}] up as ${ids[0]}` && l.level === 'info'), { what: 'stdout forwarded' });
    await waitFor(() => logs.some((l) => l.line === `[${ids[2]}] a warning from ${ids[2]}` && l.level === 'warn'), { what: 'stderr forwarded' });
  });

  it('when reconciled again with the same target, changes nothing and reuses the key', async () => {
    const before = runtime.instances().map((i) => i.pid);
    await runtime.reconcile([target(3)]);
    expect(runtime.instances().map((i) => i.pid)).toEqual(before);
    expect(keyRequests).toEqual([AGENT_ID]);
  });

  it('given a crashed instance, restarts it in the same slot with a growing backoff, reset after a stable run', async () => {
    const id = `${PREFIX}-2`;
    const restartedIn = (ms: number) => logs.filter((l) => l.line.startsWith(`[${id}] exited (signal SIGKILL)`) && l.line.endsWith(`restarting in ${ms} ms`)).length;

    const first = recorded(id);
    const killedAt = Date.now();
    process.kill(first.pid, 'SIGKILL');
    const second = await upAgain(id, first.pid);
    expect(second.env.SAGA_INSTANCE_ID).toBe(id);
    expect(second.startedAt - killedAt).toBeGreaterThanOrEqual(BASE_MS - 20);
    expect(restartedIn(BASE_MS)).toBe(1);
    expect(slot(id)?.restarts).toBe(1);

    // A second crash right after the restart: the pause doubles.
    const killedAgainAt = Date.now();
    process.kill(second.pid, 'SIGKILL');
    const third = await upAgain(id, second.pid);
    expect(third.startedAt - killedAgainAt).toBeGreaterThanOrEqual(2 * BASE_MS - 20);
    expect(restartedIn(2 * BASE_MS)).toBe(1);

    // After running stably (stableAfterMs 1.5 s) the backoff starts over.
    await waitFor(() => Date.now() - third.startedAt > 1_600, { what: 'a stable run', intervalMs: 50 });
    process.kill(third.pid, 'SIGKILL');
    const fourth = await upAgain(id, third.pid);
    expect(restartedIn(BASE_MS)).toBe(2);
    expect(slot(id)?.restarts).toBe(3);
    expect(alive(fourth.pid)).toBe(true);

    // The other slots were not touched.
    expect(stoppedGracefully(`${PREFIX}-1`) || stoppedGracefully(`${PREFIX}-3`)).toBe(false);
  });

  it('given desired 1, stops the two surplus instances gracefully and keeps the first', async () => {
    const keep = recorded(`${PREFIX}-1`);
    const surplus = [`${PREFIX}-2`, `${PREFIX}-3`].map((id) => ({ id, pid: recorded(id).pid }));

    await runtime.reconcile([target(1)]);

    expect(runtime.instances().map((i) => [i.instanceId, i.pid])).toEqual([[`${PREFIX}-1`, keep.pid]]);
    for (const { id, pid } of surplus) {
      expect(stoppedGracefully(id)).toBe(true);
      expect(alive(pid)).toBe(false);
    }
    expect(alive(keep.pid)).toBe(true);
  });

  it('given no targets, stops every instance', async () => {
    const last = recorded(`${PREFIX}-1`);
    await runtime.reconcile([]);
    expect(runtime.instances()).toEqual([]);
    expect(stoppedGracefully(`${PREFIX}-1`)).toBe(true);
    expect(alive(last.pid)).toBe(false);
  });

  it('given an agent type the deployment did not map, starts nothing and asks for no key', async () => {
    keyRequests.length = 0;
    await runtime.reconcile([target(2, { type: 'python' })]);
    expect(runtime.instances()).toEqual([]);
    expect(keyRequests).toEqual([]);
    expect(logs.some((l) => l.line.includes('no local command for type "python"'))).toBe(true);
  });

  it('given a key that cannot be issued, starts nothing, logs it and tries again next time', async () => {
    let refuse = true;
    const flaky = new LocalAgentRuntime({
      config: loadRuntimeConfig(configPath),
      apiUrl: 'http://127.0.0.1:3999',
      issueKey: async () => {
        if (refuse) throw new Error('agent not ACTIVE');
        return 'late-key';
      },
      log: (line, level) => logs.push({ line, level }),
    });
    const other = target(1, { agentId: 'ffffeeee-0000-4000-8000-000000000002' });
    try {
      await flaky.reconcile([other]);
      expect(flaky.instances()).toEqual([]);
      expect(logs.some((l) => l.level === 'error' && l.line.includes('cannot issue a key') && l.line.includes('agent not ACTIVE'))).toBe(true);

      refuse = false;
      await flaky.reconcile([other]);
      const file = await waitFor(() => flaky.instances()[0]?.state === 'running' && recorded('ffffeeee-1'), { what: 'instance started' });
      expect(file.env.SAGA_AGENT_KEY).toBe('late-key');
    } finally {
      await flaky.stopAll();
    }
  });

  it('given an instance that ignores SIGTERM, kills it after stopGraceMs', async () => {
    const stubborn = new LocalAgentRuntime({
      config: loadRuntimeConfig(configPath),
      apiUrl: 'http://127.0.0.1:3999',
      issueKey: async () => 'k',
      log: (line, level) => logs.push({ line, level }),
      stopGraceMs: 300,
    });
    const agentId = 'abcdabcd-0000-4000-8000-000000000003';
    await stubborn.reconcile([target(1, { agentId, type: 'stubborn' })]);
    const file = await waitFor(() => stubborn.instances()[0]?.state === 'running' && recorded('abcdabcd-1'), { what: 'stubborn instance up' });

    const stoppingAt = Date.now();
    await stubborn.stopAll();
    expect(Date.now() - stoppingAt).toBeGreaterThanOrEqual(300);
    expect(alive(file.pid)).toBe(false);
    expect(stoppedGracefully('abcdabcd-1')).toBe(false);
    expect(logs.some((l) => l.line === '[abcdabcd-1] did not stop within 300 ms of SIGTERM; sending SIGKILL')).toBe(true);
  });

  it('given a config file with a bad field, refuses it naming the file and the field', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ types: { test: { command: 'node agent.js' } } }));
    expect(() => loadRuntimeConfig(bad)).toThrow(`agent runtime config ${bad} is invalid: types.test.command: must be an array of strings`);
  });
});
