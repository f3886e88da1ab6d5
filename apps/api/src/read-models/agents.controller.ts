import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { notFound } from '../http/problem';
import { UuidParam } from '../http/params';
import { READ_MODEL_ERRORS } from './read-models.docs';
import { AgentDto, AgentPageDto, ListAgentsQueryDto } from './read-models.dto';
import { findRow, listAgents, toAgent } from './read-models.queries';

@ApiTags('read models')
@ApiBearerAuth()
@READ_MODEL_ERRORS()
@Controller('v1/agents')
export class AgentsController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get()
  @ApiOperation({ summary: 'Agents of the tenant (admin: every tenant), newest first' })
  @ApiOkResponse({ type: AgentPageDto })
  list(@Query() q: ListAgentsQueryDto, @TenantScope() tenantId?: string): Promise<AgentPageDto> {
    return listAgents(this.pool, { ...q, tenantId });
  }

  @Get(':agentId')
  @ApiOperation({ summary: 'One agent' })
  @ApiOkResponse({ type: AgentDto })
  @ApiNotFoundResponse({ description: 'unknown agent, or another tenant’s' })
  async get(@UuidParam('agentId') agentId: string, @TenantScope() tenantId?: string): Promise<AgentDto> {
    const row = await findRow(this.pool, 'agents', 'agent_id', agentId, tenantId);
    if (!row) throw notFound(`agent ${agentId} not found`);
    return toAgent(row);
  }
}
