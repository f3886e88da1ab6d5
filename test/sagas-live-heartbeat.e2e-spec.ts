import { Global, INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'crypto';
import http from 'http';
import { AddressInfo } from 'net';
import { createTestDatabase, TestDatabase } from '@app/database';
import { PlatformConfig } from '@app/platform';
import { AppModule } from '../apps/api/src/app.module';
import { LIVE_HEARTBEAT_MS } from '../apps/api/src/sagas/saga-live.controller';
import { bearer } from './support/e2e-app';

jest.setTimeout(120_000);

/** Instead of the 15 s of production, so that the test sees heartbeats at once. */
const HEARTBEAT_MS = 400;
/**
 * Client and server share this process's event loop, so a frame's arrival can be recorded late (a
 * busy loop delays one chunk, not the next): gaps are measured with this much slack.
 */
const SLACK_MS = 100;

@Global()
@Module({ providers: [{ provide: LIVE_HEARTBEAT_MS, useValue: HEARTBEAT_MS }], exports: [LIVE_HEARTBEAT_MS] })
class ShortHeartbeatModule {}

/** What the client read, as it came: the server writes each frame (event or comment) on its own. */
interface Chunk {
  at: number;
  text: string;
}

const isComment = (c: Chunk) => c.text.startsWith(':');

/** A raw reader of a /live response that records each chunk with its arrival time. */
function openLive(url: string, key: string) {
  const chunks: Chunk[] = [];
  let status = 0;
  let ended = false;
  const waiters: Array<() => void> = [];
  const changed = () => waiters.splice(0).forEach((w) => w());
  const req = http.get(url, { headers: bearer(key) }, (res) => {
    status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      chunks.push({ at: Date.now(), text });
      changed();
    });
    res.on('end', () => {
      ended = true;
      changed();
    });
  });
  req.on('error', () => undefined);
  return {
    chunks,
    status: () => status,
    ended: () => ended,
    /** Resolves once `condition` holds (checked on each chunk and at the end), else rejects after `ms`. */
    until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms; read ${JSON.stringify(chunks.map((c) => c.text))}`)), ms);
        const check = () => {
          if (condition()) {
            clearTimeout(timer);
            resolve();
          } else if (ended) {
            clearTimeout(timer);
            reject(new Error(`${what}: the stream ended first; read ${JSON.stringify(chunks.map((c) => c.text))}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () => req.destroy(),
  };
}

/**
 * The application with a short heartbeat, provided the way the controller takes it (an optional
 * injection), on a database of its own.
 */
describe('GET /v1/sagas/{sagaId}/live: the heartbeat comment of an idle stream', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let base: string;
  let client: string;
  const adminKey = `sk_admin_${randomBytes(16).toString('hex')}`;

  const post = async (path: string, key: string, body: object): Promise<Record<string, string>> => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { ...bearer(key), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, string>;
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  beforeAll(async () => {
    process.env.NODE_ENV = 'test';
    db = await createTestDatabase({ poolSize: 2 });
    const config: PlatformConfig = {
      databaseUrl: db.url,
      adminApiKey: adminKey,
      embedded: false,
      poolSize: 6,
      worker: { enabled: true, concurrency: 4, pollIntervalMs: 50, leaseMs: 5000 },
      projections: { enabled: false, batchSize: 500 },
    };
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config), ShortHeartbeatModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${((app.getHttpServer() as http.Server).address() as AddressInfo).port}`;

    const tenantId = `t-${randomBytes(4).toString('hex')}`;
    await post('/v1/tenants', adminKey, { id: tenantId, name: 'Heartbeat', quota: { cpuMillis: 1000, memoryMb: 1000 }, allowedPermissions: ['read'] });
    client = (await post('/v1/api-keys', adminKey, { tenantId, role: 'client', name: 'client key' })).key;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('sends a comment line after each interval without an event, and the stream goes on after them', async () => {
    // A step that waits 3 s: after SagaStarted and StepStarted the stream is idle for that long.
    const { sagaId } = await post('/v1/sagas/task-workflow', client, { name: 'idle', tasks: [{ id: 'a', handler: 'delay', dependsOn: [], config: { ms: 3000 } }] });
    const live = openLive(`${base}/v1/sagas/${sagaId}/live`, client);
    try {
      await live.until(() => live.chunks.filter(isComment).length >= 2, 'two heartbeats');
      expect(live.status()).toBe(200);
      const frames = live.chunks.slice(0, 4).map((c) => c.text).join('').split('\n\n').filter(Boolean);
      expect(frames.map((f) => f.match(/^event: (.*)$/m)?.[1] ?? f)).toEqual(['SagaStarted', 'StepStarted', ': keep-alive', ': keep-alive']);
      // Idle: an interval without a write before each comment.
      const [, lastEvent, beat1, beat2] = live.chunks;
      expect(beat1.at - lastEvent.at).toBeGreaterThanOrEqual(HEARTBEAT_MS - SLACK_MS);
      expect(beat2.at - beat1.at).toBeGreaterThanOrEqual(HEARTBEAT_MS - SLACK_MS);

      // Comments change nothing for the client: the next events come, and the stream ends after the terminal one.
      await live.until(() => live.ended(), 'the end of the stream');
      const events = live.chunks.filter((c) => !isComment(c)).map((c) => c.text.match(/^event: (.*)$/m)?.[1]);
      expect(events).toEqual(['SagaStarted', 'StepStarted', 'StepSucceeded', 'SagaCompleted']);
    } finally {
      live.close();
    }
  });

  it('sends none while events keep coming: each comment follows a whole interval of silence', async () => {
    // Twelve short steps in a row: an event every ~100 ms for a second or more.
    const tasks = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, handler: 'delay', dependsOn: i === 0 ? [] : [`s${i - 1}`], config: { ms: 80 } }));
    const { sagaId } = await post('/v1/sagas/task-workflow', client, { name: 'busy', tasks });
    const live = openLive(`${base}/v1/sagas/${sagaId}/live`, client);
    try {
      await live.until(() => live.ended(), 'the end of the stream');
      const events = live.chunks.filter((c) => !isComment(c));
      expect(events[events.length - 1].text).toMatch(/event: SagaCompleted\n/);
      expect(events.length).toBeGreaterThanOrEqual(1 + 2 * tasks.length + 1);
      // Long enough that a clock-driven heartbeat would have come at least once mid-stream.
      expect(events[events.length - 1].at - events[0].at).toBeGreaterThan(HEARTBEAT_MS);
      const early = live.chunks.flatMap((c, i) => (isComment(c) && i > 0 && c.at - live.chunks[i - 1].at < HEARTBEAT_MS - SLACK_MS ? [c.at - live.chunks[i - 1].at] : []));
      expect(early).toEqual([]);
    } finally {
      live.close();
    }
  });
});
