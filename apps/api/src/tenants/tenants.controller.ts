import { Body, Controller, Delete, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
import { ApiProblems } from '../http/problem.docs';
import { ApiKeyCreatedDto, CreateApiKeyDto, CreateTenantDto, TenantDto } from './tenants.dto';

@ApiTags('tenants')
@ApiBearerAuth()
@ApiProblems([403, 'not the admin key'])
@MinRole('admin')
@Controller('v1')
export class TenantsController {
  constructor(
    @Inject(DOMAIN_COMMANDS) private readonly commands: DomainCommandDispatcher,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly keys: ApiKeysService,
  ) {}

  @Post('tenants')
  @ApiOperation({ summary: 'Create a tenant', description: 'Creates a tenant with its quota and the permissions its agents may be given.' })
  @ApiCreatedResponse({ type: TenantDto })
  @ApiProblems([409, 'a tenant with this id exists'])
  async createTenant(@Body() body: CreateTenantDto, @Caller() caller: Principal, @CorrelationId() correlationId: string): Promise<TenantDto> {
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
  @ApiOperation({ summary: 'Get a tenant', description: 'One tenant with its quota, allowed permissions and current usage.' })
  @ApiOkResponse({ type: TenantDto })
  @ApiProblems([400, 'id is not a slug'], [404, 'no such tenant'])
  getTenant(@SlugParam('id') id: string): Promise<TenantDto> {
    return this.view(id);
  }

  @Post('api-keys')
  @ApiOperation({ summary: 'Create an api key', description: 'Creates a key of a tenant with a role; the key itself is shown only in this answer.' })
  @ApiCreatedResponse({ type: ApiKeyCreatedDto })
  @ApiProblems([404, 'no such tenant'])
  async createApiKey(@Body() body: CreateApiKeyDto): Promise<ApiKeyCreatedDto> {
    const tenant = await this.commands.load('tenant', body.tenantId);
    if (tenant.version < 0) throw notFound(`tenant ${body.tenantId} not found`);
    const { id, key, tenantId, role, name } = await this.keys.create(body.tenantId, body.role, body.name);
    return { id, key, tenantId, role, name };
  }

  @Delete('api-keys/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an api key', description: 'The key stops working at once.' })
  @ApiNoContentResponse({ description: 'the key stops working at once' })
  @ApiProblems([400, 'id is not a UUID'], [404, 'no such api key'])
  async revokeApiKey(@UuidParam('id') id: string): Promise<void> {
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
