import { Body, Controller, Delete, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Pool } from 'pg';
import { withTransaction } from '@app/database';
import { DomainCommandDispatcher } from '@app/sagas';
import { DOMAIN_COMMANDS, PG_POOL } from '@app/platform';
import { ApiKeysService } from '../auth/api-keys.service';
import { MinRole } from '../auth/auth.types';
import { Caller, CorrelationId, actorOf } from '../auth/principal.decorator';
import { Principal } from '../auth/auth.types';
import { conflict, notFound } from '../http/problem';
import { UuidParam, SlugParam } from '../http/params';
import { ApiKeyCreatedDto, CreateApiKeyDto, CreateTenantDto, TenantDto } from './tenants.dto';

@ApiTags('tenants')
@ApiBearerAuth()
@MinRole('admin')
@Controller('v1')
export class TenantsController {
  constructor(
    @Inject(DOMAIN_COMMANDS) private readonly commands: DomainCommandDispatcher,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly keys: ApiKeysService,
  ) {}

  @Post('tenants')
  @ApiCreatedResponse({ type: TenantDto })
  async create(@Body() body: CreateTenantDto, @Caller() caller: Principal, @CorrelationId() correlationId: string): Promise<TenantDto> {
    const metadata = { correlationId, actor: actorOf(caller) };
    try {
      await withTransaction(this.pool, async (client) => {
        const created = await this.commands.dispatch({
          aggregate: 'tenant',
          id: body.id,
          tenantId: body.id,
          tx: client,
          metadata,
          command: { type: 'CreateTenant', data: { tenantId: body.id, name: body.name, quota: { ...body.quota }, allowedPermissions: body.allowedPermissions } },
        });
        if (created.events.length === 0) throw conflict(`tenant ${body.id} already exists`);
        await this.commands.dispatch({
          aggregate: 'quota',
          id: body.id,
          tenantId: body.id,
          tx: client,
          metadata,
          command: { type: 'SetQuota', data: { ...body.quota } },
        });
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'TENANT_EXISTS') throw conflict(`tenant ${body.id} already exists`);
      throw err;
    }
    return this.view(body.id);
  }

  @Get('tenants/:id')
  @ApiOkResponse({ type: TenantDto })
  get(@SlugParam('id') id: string): Promise<TenantDto> {
    return this.view(id);
  }

  @Post('api-keys')
  @ApiCreatedResponse({ type: ApiKeyCreatedDto })
  async createKey(@Body() body: CreateApiKeyDto): Promise<ApiKeyCreatedDto> {
    const tenant = await this.commands.load('tenant', body.tenantId);
    if (tenant.version < 0) throw notFound(`tenant ${body.tenantId} not found`);
    const { id, key, tenantId, role, name } = await this.keys.create(body.tenantId, body.role, body.name);
    return { id, key, tenantId, role, name };
  }

  @Delete('api-keys/:id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'the key stops working at once' })
  async revokeKey(@UuidParam('id') id: string): Promise<void> {
    if (!(await this.keys.revoke(id))) throw notFound(`api key ${id} not found`);
  }

  private async view(id: string): Promise<TenantDto> {
    const tenant = await this.commands.load('tenant', id);
    if (tenant.version < 0 || tenant.state.status !== 'CREATED') throw notFound(`tenant ${id} not found`);
    const quota = await this.commands.load('quota', id);
    const t = tenant.state;
    return {
      id,
      name: t.name,
      quota: quota.state.limits ?? t.quota,
      allowedPermissions: t.allowedPermissions,
      usage: quota.state.used ?? { cpuMillis: 0, memoryMb: 0 },
    };
  }
}
