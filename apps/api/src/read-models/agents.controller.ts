import { Inject, Query } from '@nestjs/common';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { ListRoute } from '../http/list-route.decorator';
import { UuidParam } from '../http/params';
import { ItemRoute, ReadModelController } from './read-models.docs';
import { AgentDto, AgentPageDto, ListAgentsQueryDto } from './read-models.dto';
import { getAgent, listAgents } from './read-models.queries';

@ReadModelController('v1/agents')
export class AgentsController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @ListRoute('Agents of the tenant (admin: every tenant), newest first', AgentPageDto)
  list(@Query() q: ListAgentsQueryDto, @TenantScope() tenantId?: string): Promise<AgentPageDto> {
    return listAgents(this.pool, { ...q, tenantId });
  }

  @ItemRoute('agentId', 'One agent', AgentDto, 'unknown agent, or another tenant’s')
  get(@UuidParam('agentId') agentId: string, @TenantScope() tenantId?: string): Promise<AgentDto> {
    return getAgent(this.pool, agentId, tenantId);
  }
}
