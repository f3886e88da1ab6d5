import { Inject, Query } from '@nestjs/common';
import { Pool } from 'pg';
import { AGENT_WORK, AgentWork } from '@app/agents';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { ListRoute } from '../http/list-route.decorator';
import { UuidParam } from '../http/params';
import { ItemRoute, ReadModelController } from './read-models.docs';
import { AgentDetailDto, AgentPageDto, ListAgentsQueryDto } from './read-models.dto';
import { getAgentDetail, listAgents } from './read-models.queries';

@ReadModelController('v1/agents')
export class AgentsController {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(AGENT_WORK) private readonly work: AgentWork,
  ) {}

  @ListRoute('List agents', AgentPageDto, 'Agents of the tenant (admin: every tenant), newest first, optionally by status or capability; keyset-paged.')
  listAgents(@Query() q: ListAgentsQueryDto, @TenantScope() tenantId?: string): Promise<AgentPageDto> {
    return listAgents(this.pool, { ...q, tenantId });
  }

  @ItemRoute(
    'agentId',
    'Get an agent',
    AgentDetailDto,
    'unknown agent, or another tenant’s',
    'One agent from the read model: status, capabilities, permissions, resources, the saga that provisioned it, its scaling policy and desired instances; and its instances with their health.',
  )
  async getAgent(@UuidParam('agentId') agentId: string, @TenantScope() tenantId?: string): Promise<AgentDetailDto> {
    const agent = await getAgentDetail(this.pool, agentId, tenantId);
    return { ...agent, instances: await this.work.instances(agent.tenantId, agentId) };
  }
}
