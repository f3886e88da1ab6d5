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

  @ListRoute('List agents', AgentPageDto, 'Agents of the tenant (admin: every tenant), newest first, optionally by status or capability; keyset-paged.')
  listAgents(@Query() q: ListAgentsQueryDto, @TenantScope() tenantId?: string): Promise<AgentPageDto> {
    return listAgents(this.pool, { ...q, tenantId });
  }

  @ItemRoute('agentId', 'Get an agent', AgentDto, 'unknown agent, or another tenant’s', 'One agent from the read model: status, capabilities, permissions, resources and the saga that provisioned it.')
  getAgent(@UuidParam('agentId') agentId: string, @TenantScope() tenantId?: string): Promise<AgentDto> {
    return getAgent(this.pool, agentId, tenantId);
  }
}
