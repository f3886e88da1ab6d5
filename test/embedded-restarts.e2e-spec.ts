import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import request from 'supertest';
import { setTimeout as delay } from 'timers/promises';
import { waitFor } from '@app/database';
import { TERMINAL_SAGA_STATUSES } from '@app/sagas';
import { bearer } from './support/e2e-app';
import { PlatformProcess } from './support/spawn-platform';

// Five starts with a 30 s readiness window each, plus five shorter starts: about four minutes in
// all. The budgets also cover the failures: a process that ignores its stop signal is only killed
// 45 s later, and a test must still end on its own report, not on Jest's timeout.
jest.setTimeout(120_000);

const ROUNDS = 5;
const READY_WINDOW_MS = 30_000;
const READY_EVERY_MS = 250;
/** Every single /ready answer must come within this long. */
const READY_ANSWER_MS = 3_000;
/** A second process on a held data directory must be gone within this long. */
const REFUSAL_MS = 20_000;
/** No request of the tour may hang: a wedged process fails the test instead of stalling it. */
const REQUEST_MS = 10_000;

/** The bodies of README.md "A 60-second tour". */
const SUPPORT_BOT = {
  agent: {
    name: 'support-bot',
    type: 'llm',
    capabilities: ['chat'],
    permissions: ['read'],
    resources: { cpuMillis: 500, memoryMb: 512 },
    initialTask: { name: 'smoke', handler: 'echo', config: { hello: 'world' } },
  },
};
const ROGUE = { agent: { name: 'rogue', type: 'llm', capabilities: [], permissions: ['root'], resources: { cpuMillis: 100, memoryMb: 128 } } };

/** What one run of the tour left behind, checked after every later start. */
interface TourSagas {
  round: number;
  key: string;
  completed: string;
  compensated: string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function client(base: string, key: string) {
  return {
    get: (path: string) => request(base).get(path).set(bearer(key)).timeout(REQUEST_MS),
    post: (path: string, body: object) => request(base).post(path).set(bearer(key)).timeout(REQUEST_MS).send(body),
  };
}

/** Polls /ready every READY_EVERY_MS for `windowMs`: every answer must be 200 within READY_ANSWER_MS. */
async function readyContinuously(base: string, windowMs: number): Promise<void> {
  const started = Date.now();
  for (let n = 1; Date.now() - started < windowMs; n++) {
    const asked = Date.now();
    let answer: string;
    try {
      const res = await request(base).get('/ready').timeout(READY_ANSWER_MS);
      if (res.status === 200) {
        await delay(Math.max(0, READY_EVERY_MS - (Date.now() - asked)));
        continue;
      }
      answer = `${res.status} ${JSON.stringify(res.body)}`;
    } catch (err) {
      answer = (err as Error).message;
    }
    throw new Error(`/ready probe ${n}, ${asked - started} ms into the window, answered after ${Date.now() - asked} ms: ${answer}`);
  }
}

async function finalStatus(base: string, key: string, sagaId: string): Promise<string> {
  return waitFor(async () => {
    const res = await client(base, key).get(`/v1/sagas/${sagaId}`);
    return TERMINAL_SAGA_STATUSES.includes(res.body.status) ? (res.body.status as string) : undefined;
  }, { timeoutMs: 60_000 });
}

/** README "A 60-second tour": a tenant, an operator key, a provisioning that completes, one that compensates. */
async function runTour(base: string, adminKey: string, round: number): Promise<TourSagas> {
  const admin = client(base, adminKey);
  const tenantId = `acme-${round}`;
  const tenant = await admin.post('/v1/tenants', {
    id: tenantId,
    name: 'Acme',
    quota: { cpuMillis: 4000, memoryMb: 8192 },
    allowedPermissions: ['read', 'write'],
  });
  expect(tenant.status).toBe(201);
  const keyRes = await admin.post('/v1/api-keys', { tenantId, role: 'operator', name: 'tour' });
  expect(keyRes.status).toBe(201);
  const key: string = keyRes.body.key;
  const api = client(base, key);

  const ok = await api.post('/v1/sagas/agent-provisioning', SUPPORT_BOT).set('Idempotency-Key', `tour-${round}`);
  const bad = await api.post('/v1/sagas/agent-provisioning', ROGUE);
  expect([ok.status, bad.status]).toEqual([202, 202]);
  expect(await finalStatus(base, key, ok.body.sagaId)).toBe('COMPLETED');
  expect(await finalStatus(base, key, bad.body.sagaId)).toBe('COMPENSATED');

  const log = await api.get(`/v1/sagas/${bad.body.sagaId}/compensations`);
  expect(log.body.entries.filter((e: { status: string }) => e.status === 'SUCCEEDED').map((e: { step: string }) => e.step)).toEqual([
    'reserve-resources',
    'register-agent',
  ]);
  const state = await api.get(`/v1/streams/saga-${ok.body.sagaId}/state?atVersion=3`);
  expect([state.status, state.body.version]).toEqual([200, 3]);
  return { round, key, completed: ok.body.sagaId, compensated: bad.body.sagaId };
}

/** Every saga of earlier runs is still there, with the final status it had before the stop. */
async function expectEarlierSagas(base: string, earlier: TourSagas[]): Promise<void> {
  for (const t of earlier) {
    const api = client(base, t.key);
    const [completed, compensated] = await Promise.all([api.get(`/v1/sagas/${t.completed}`), api.get(`/v1/sagas/${t.compensated}`)]);
    expect({ round: t.round, completed: [completed.status, completed.body.status], compensated: [compensated.status, compensated.body.status] }).toEqual({
      round: t.round,
      completed: [200, 'COMPLETED'],
      compensated: [200, 'COMPENSATED'],
    });
  }
}

/**
 * Runs `body` against a started process, then stops it with `signal` whatever happened: a failing
 * body must not leave the process behind, and a stop that hangs is a failure of its own.
 */
async function thenStop(p: PlatformProcess, signal: 'SIGTERM' | 'SIGINT', what: string, body: () => Promise<void>): Promise<void> {
  let failure: Error | undefined;
  try {
    await body();
  } catch (err) {
    failure = new Error(`${what}: ${(err as Error).message}\n\n${p.describe()}`, { cause: err });
  }
  try {
    await p.stop(signal);
  } catch (err) {
    const stop = `${what}, stopping with ${signal}: ${(err as Error).message}`;
    failure = new Error(failure ? `${failure.message}\n\nthen ${stop}` : stop);
  }
  if (failure) throw failure;
}

/**
 * Issue 10, "embedded restarts": `npm start` on the embedded PostgreSQL (PGlite), stopped and
 * started again on one data directory, keeps answering and keeps its data; the directory is held
 * by one process at a time, and a holder killed outright does not keep it.
 */
describe('npm start on the embedded default, restarted on one data directory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-embedded-restarts-'));
  const adminKeyFile = join(dataDir, 'admin-api-key');
  const earlier: TourSagas[] = [];
  let adminKey: string | undefined;

  afterAll(async () => {
    await PlatformProcess.killLeftovers();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('names the real data directory in its banner', async () => {
    const p = await PlatformProcess.start(dataDir);
    await thenStop(p, 'SIGTERM', `pid ${p.pid}`, async () => {
      adminKey = p.adminKey;
      expect(p.output).toContain(dataDir);
      expect(p.output).not.toContain('.data/pglite');
    });
  });

  it(
    'starts, runs the tour and stops (SIGTERM) five times: each start ready for 30 s, with every earlier saga',
    async () => {
      for (let round = 1; round <= ROUNDS; round++) {
        const p = await PlatformProcess.start(dataDir);
        await thenStop(p, 'SIGTERM', `start ${round} of ${ROUNDS} (pid ${p.pid})`, async () => {
          adminKey ??= p.adminKey;
          expect([p.adminKey, readFileSync(adminKeyFile, 'utf8').trim()]).toEqual([adminKey, adminKey]);
          await Promise.all([
            readyContinuously(p.base, READY_WINDOW_MS),
            (async () => {
              await expectEarlierSagas(p.base, earlier);
              earlier.push(await runTour(p.base, adminKey!, round));
            })(),
          ]);
        });
      }
    },
    ROUNDS * (READY_WINDOW_MS + 15_000) + 60_000,
  );

  it('refuses a second process on the held data directory at once, with one line naming it and the holder pid', async () => {
    const holder = await PlatformProcess.start(dataDir);
    await thenStop(holder, 'SIGTERM', `holder (pid ${holder.pid})`, async () => {
      const intruder = await PlatformProcess.spawn(dataDir);
      const exit = await intruder.exitWithin(REFUSAL_MS);
      if (!exit) {
        await intruder.kill();
        throw new Error(`a second process (pid ${intruder.pid}) on ${dataDir} was still running after ${REFUSAL_MS} ms:\n${intruder.output}`);
      }
      expect(exit.signal).toBeNull();
      expect(exit.code).not.toBe(0);
      expect(intruder.output).toMatch(new RegExp(`^.*${escapeRegExp(dataDir)}.*\\b${holder.pid}\\b.*$`, 'm'));
      expect(intruder.output).not.toMatch(/listening on/);
      // The refused start took nothing from the holder.
      expect((await request(holder.base).get('/ready').timeout(READY_ANSWER_MS)).status).toBe(200);
      await expectEarlierSagas(holder.base, earlier);
    });
  });

  it('stops on SIGINT (Ctrl-C) within 15 s', async () => {
    const p = await PlatformProcess.start(dataDir);
    await thenStop(p, 'SIGINT', `pid ${p.pid}`, async () => {
      expect((await request(p.base).get('/ready').timeout(READY_ANSWER_MS)).status).toBe(200);
    });
  });

  it('starts after a holder killed with SIGKILL (its lock is stale), with every saga, and runs new ones', async () => {
    const doomed = await PlatformProcess.start(dataDir);
    try {
      expect((await request(doomed.base).get('/ready').timeout(READY_ANSWER_MS)).status).toBe(200);
    } finally {
      await doomed.kill();
    }

    const next = await PlatformProcess.start(dataDir);
    await thenStop(next, 'SIGTERM', `start after SIGKILL of pid ${doomed.pid} (pid ${next.pid})`, async () => {
      expect(next.adminKey).toBe(adminKey ?? next.adminKey);
      await Promise.all([
        // Shorter than the rounds' window: the wedge of issue 10 shows within seconds.
        readyContinuously(next.base, 10_000),
        (async () => {
          await expectEarlierSagas(next.base, earlier);
          earlier.push(await runTour(next.base, next.adminKey, ROUNDS + 1));
        })(),
      ]);
    });
  });
});
