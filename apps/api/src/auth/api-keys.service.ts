import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'crypto';
import { Pool } from 'pg';
import { PG_POOL, PLATFORM_CONFIG, PlatformConfig } from '@app/platform';
import { Principal, Role } from './auth.types';

export interface ApiKeyView {
  id: string;
  tenantId: string;
  role: Role;
  name: string;
  createdAt: string;
}

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** API keys: random 256-bit secrets, stored hashed, checked on every request (revocation is immediate). */
@Injectable()
export class ApiKeysService {
  private readonly adminHash?: Buffer;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(PLATFORM_CONFIG) config: PlatformConfig,
  ) {
    if (config.adminApiKey) this.adminHash = Buffer.from(hashKey(config.adminApiKey), 'hex');
  }

  async authenticate(key: string): Promise<Principal | undefined> {
    if (!key || key.length > 200) return undefined;
    const hash = hashKey(key);
    if (this.adminHash && timingSafeEqual(this.adminHash, Buffer.from(hash, 'hex'))) return { keyId: 'admin', role: 'admin' };
    const { rows } = await this.pool.query<{ id: string; tenant_id: string; role: Role }>({
      name: 'api_key_lookup',
      text: 'select id, tenant_id, role from api_keys where key_hash = $1 and revoked_at is null',
      values: [hash],
    });
    const row = rows[0];
    if (!row) return undefined;
    return { keyId: row.id, role: row.role, tenantId: row.role === 'admin' ? undefined : row.tenant_id };
  }

  async create(tenantId: string, role: Role, name: string): Promise<ApiKeyView & { key: string }> {
    const id = randomUUID();
    const key = `sk_${randomBytes(32).toString('base64url')}`;
    const { rows } = await this.pool.query<{ created_at: Date }>(
      'insert into api_keys (id, tenant_id, role, name, key_hash) values ($1, $2, $3, $4, $5) returning created_at',
      [id, tenantId, role, name, hashKey(key)],
    );
    return { id, key, tenantId, role, name, createdAt: rows[0].created_at.toISOString() };
  }

  /** True when a key was revoked now (false: unknown or already revoked). */
  async revoke(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('update api_keys set revoked_at = now() where id = $1 and revoked_at is null', [id]);
    return (rowCount ?? 0) > 0;
  }
}
