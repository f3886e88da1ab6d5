import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'crypto';
import { Pool } from 'pg';
import { PG_POOL, PLATFORM_CONFIG, PlatformConfig } from '@app/platform';
import { Principal, RankedRole, Role } from './auth.types';

export interface ApiKeyView {
  id: string;
  tenantId: string;
  role: Role;
  name: string;
  /** The agent of an `agent` key. */
  agentId?: string;
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
    // An agent key stops working once its agent is DECOMMISSIONED in the read model, even if it was
    // created while the decommissioning revoked the agent's keys (the revocation is the rule, this the backstop).
    const { rows } = await this.pool.query<{ id: string; tenant_id: string; role: Role; agent_id: string | null }>({
      name: 'api_key_lookup',
      text: `select k.id, k.tenant_id, k.role, k.agent_id from api_keys k
             where k.key_hash = $1 and k.revoked_at is null
               and (k.agent_id is null or not exists (select 1 from agents a where a.agent_id = k.agent_id and a.status = 'DECOMMISSIONED'))`,
      values: [hash],
    });
    const row = rows[0];
    if (!row) return undefined;
    if (row.role === 'agent') return { keyId: row.id, role: 'agent', tenantId: row.tenant_id, agentId: row.agent_id ?? undefined };
    return { keyId: row.id, role: row.role, tenantId: row.role === 'admin' ? undefined : row.tenant_id };
  }

  /** A key of `tenantId` with `role`; an `agent` key names its agent (`agentId`), other roles none. */
  async create(tenantId: string, role: RankedRole, name: string): Promise<ApiKeyView & { key: string }>;
  async create(tenantId: string, role: 'agent', name: string, agentId: string): Promise<ApiKeyView & { key: string }>;
  async create(tenantId: string, role: Role, name: string, agentId?: string): Promise<ApiKeyView & { key: string }> {
    const id = randomUUID();
    const key = `sk_${randomBytes(32).toString('base64url')}`;
    const { rows } = await this.pool.query<{ created_at: Date }>(
      'insert into api_keys (id, tenant_id, role, name, key_hash, agent_id) values ($1, $2, $3, $4, $5, $6) returning created_at',
      [id, tenantId, role, name, hashKey(key), role === 'agent' ? agentId : null],
    );
    return { id, key, tenantId, role, name, ...(agentId && role === 'agent' ? { agentId } : {}), createdAt: rows[0].created_at.toISOString() };
  }

  /** True when a key was revoked now (false: unknown or already revoked). */
  async revoke(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('update api_keys set revoked_at = now() where id = $1 and revoked_at is null', [id]);
    return (rowCount ?? 0) > 0;
  }
}
