import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'crypto';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '@app/database';
import { PlatformConfig } from '@app/platform';
import { createApp } from '../../apps/api/src/bootstrap/create-app';

export interface E2eContext {
  app: INestApplication;
  db: TestDatabase;
  adminKey: string;
  http: () => ReturnType<typeof request>;
  /**
   * Listens on `port` (default: a free one; once) and returns the base URL, for agents in child
   * processes. For the local agent runtime pick the port first (`freePort()` of spawn-platform.ts)
   * and pass `agents: { apiUrl }` to startE2eApp.
   */
  listen(port?: number): Promise<string>;
  /** Creates a tenant and returns keys of each role for it. */
  tenant(id?: string, options?: { cpuMillis?: number; memoryMb?: number; allowedPermissions?: string[] }): Promise<TenantKeys>;
  close(): Promise<void>;
}

export interface TenantKeys {
  tenantId: string;
  client: string;
  operator: string;
  admin: string;
}

/**
 * The real application (API + worker, in-memory bus unless REDIS_URL is set by the test) on a
 * database of its own. Pass `worker: false` for an API without the executor / projections.
 */
export async function startE2eApp(
  options: Partial<Omit<PlatformConfig, 'worker'>> & { worker?: boolean; redis?: boolean } = {},
): Promise<E2eContext> {
  const { worker, redis, ...overrides } = options;
  process.env.NODE_ENV = 'test';
  const db = await createTestDatabase({ poolSize: 2 });
  const adminKey = `sk_admin_${randomBytes(16).toString('hex')}`;
  const workerOn = worker !== false;
  const config: PlatformConfig = {
    databaseUrl: db.url,
    redisUrl: redis ? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' : undefined,
    adminApiKey: adminKey,
    embedded: false,
    poolSize: 10,
    worker: { enabled: workerOn, concurrency: 16, pollIntervalMs: 50, leaseMs: 5000 },
    projections: { enabled: workerOn, batchSize: 500 },
    ...overrides,
  };
  const app = await createApp(config, { logger: false });
  await app.init();
  const http = () => request(app.getHttpServer());
  let n = 0;
  let baseUrl: Promise<string> | undefined;
  return {
    app,
    db,
    adminKey,
    http,
    listen(port = 0) {
      baseUrl ??= app.listen(port, '127.0.0.1').then(() => {
        const address = app.getHttpServer().address() as { port: number };
        return `http://127.0.0.1:${address.port}`;
      });
      return baseUrl;
    },
    async tenant(id, options = {}) {
      const tenantId = id ?? `t-${randomBytes(4).toString('hex')}-${n++}`;
      const auth = { Authorization: `Bearer ${adminKey}` };
      const created = await http()
        .post('/v1/tenants')
        .set(auth)
        .send({
          id: tenantId,
          name: `Tenant ${tenantId}`,
          quota: { cpuMillis: options.cpuMillis ?? 4000, memoryMb: options.memoryMb ?? 8192 },
          allowedPermissions: options.allowedPermissions ?? ['read', 'write'],
        });
      if (created.status !== 201) throw new Error(`tenant creation failed: ${created.status} ${JSON.stringify(created.body)}`);
      const keys: Record<string, string> = {};
      for (const role of ['client', 'operator', 'admin']) {
        const res = await http().post('/v1/api-keys').set(auth).send({ tenantId, role, name: `${role} key` });
        if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${JSON.stringify(res.body)}`);
        keys[role] = res.body.key;
      }
      return { tenantId, client: keys.client, operator: keys.operator, admin: keys.admin };
    },
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** `startE2eApp` with a tenant `t` to act as and a second tenant `other` (for what `t` must not see). */
export async function startE2eAppWithTenants(
  options?: Parameters<typeof startE2eApp>[0],
): Promise<{ ctx: E2eContext; t: TenantKeys; other: TenantKeys }> {
  const ctx = await startE2eApp(options);
  try {
    return { ctx, t: await ctx.tenant(), other: await ctx.tenant() };
  } catch (err) {
    await ctx.close();
    throw err;
  }
}
