import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import request from 'supertest';
import { waitFor } from '@app/database';
import { bearer } from './support/e2e-app';
import { PlatformProcess } from './support/spawn-platform';

jest.setTimeout(180_000);

/**
 * `npm start` as a newcomer runs it: no DATABASE_URL, no REDIS_URL, no ADMIN_API_KEY. The process
 * boots on the embedded PostgreSQL (PGlite), prints the generated admin key, and the README tour
 * works over HTTP.
 */
describe('npm start on the embedded default (PGlite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-embedded-'));
  let platform: PlatformProcess | undefined;
  let base: string;
  let adminKey: string;
  let output = '';

  beforeAll(async () => {
    platform = await PlatformProcess.start(dataDir, 150_000);
    base = platform.base;
    adminKey = platform.adminKey;
    output = platform.output;
  });

  afterAll(async () => {
    try {
      await platform?.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('prints where it listens and the admin key, and runs the tour', async () => {
    expect(output).toMatch(/embedded PostgreSQL \(PGlite/);
    expect(output).toMatch(/in-memory/);
    const http = () => request(base);
    expect((await http().get('/ready')).status).toBe(200);
    const tenant = await http()
      .post('/v1/tenants')
      .set(bearer(adminKey))
      .send({ id: 'acme', name: 'Acme', quota: { cpuMillis: 4000, memoryMb: 8192 }, allowedPermissions: ['read'] });
    expect(tenant.status).toBe(201);
    const key = (await http().post('/v1/api-keys').set(bearer(adminKey)).send({ tenantId: 'acme', role: 'operator', name: 'tour' })).body.key;
    const agent = (name: string, permissions: string[]) => ({
      agent: { name, type: 'llm', capabilities: ['chat'], permissions, resources: { cpuMillis: 100, memoryMb: 128 }, initialTask: { name: 'smoke', handler: 'echo' } },
    });
    const ok = await http().post('/v1/sagas/agent-provisioning').set(bearer(key)).send(agent('bot', ['read']));
    const bad = await http().post('/v1/sagas/agent-provisioning').set(bearer(key)).send(agent('rogue', ['root']));
    expect([ok.status, bad.status]).toEqual([202, 202]);
    await waitFor(async () => (await http().get(`/v1/sagas/${ok.body.sagaId}`).set(bearer(key))).body.status === 'COMPLETED', { timeoutMs: 60_000 });
    await waitFor(async () => (await http().get(`/v1/sagas/${bad.body.sagaId}`).set(bearer(key))).body.status === 'COMPENSATED', { timeoutMs: 60_000 });
    const log = await http().get(`/v1/sagas/${bad.body.sagaId}/compensations`).set(bearer(key));
    expect(log.body.entries.filter((e: { status: string }) => e.status === 'SUCCEEDED').map((e: { step: string }) => e.step)).toEqual([
      'reserve-resources',
      'register-agent',
    ]);
    const state = await http().get(`/v1/streams/saga-${ok.body.sagaId}/state?atVersion=3`).set(bearer(key));
    expect(state.status).toBe(200);
    expect(state.body.version).toBe(3);
    const agents = await waitFor(async () => {
      const res = await http().get('/v1/agents').set(bearer(key));
      return res.body.items?.length === 2 ? res.body.items : undefined;
    }, { timeoutMs: 60_000 });
    expect(agents.map((a: { status: string }) => a.status).sort()).toEqual(['ACTIVE', 'DECOMMISSIONED']);
  });
});
