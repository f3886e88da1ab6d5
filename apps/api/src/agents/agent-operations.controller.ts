import { Body, Controller, Get, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { Pool } from 'pg';
import { AGENT_WORK, AgentWork } from '@app/agents';
import { PG_POOL } from '@app/platform';
import { IdempotencyConflictError, SagaExecutor, SagaType } from '@app/sagas';
import { ApiKeysService } from '../auth/api-keys.service';
import { MinRole, Principal } from '../auth/auth.types';
import { ActingTenant, actorOf, Caller, CorrelationId, TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { unprocessable } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';
import { getAgent } from '../read-models/read-models.queries';
import { SagasService } from '../sagas/sagas.service';
import { AgentDecommissioningAcceptedDto, AgentKeyCreatedDto, CreateAgentKeyDto, DECOMMISSIONING, DecommissionAgentDto, QueueDto } from './agent-operations.dto';

/** Agent statuses whose agent may be given keys. */
const KEYABLE = ['PROVISIONING', 'ACTIVE'];
const DECOMMISSIONING_TYPE: SagaType = DECOMMISSIONING;

/**
 * Operators run agents: keys for their instances, decommissioning, the queues they serve. The agent
 * is looked up in the agents read model, scoped to the caller's tenant (another tenant's: 404).
 */
@ApiTags('agents')
@ApiBearerAuth()
@ApiProblems([403, 'role too low (operator needed)'])
@MinRole('operator')
@Controller('v1')
export class AgentOperationsController {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(AGENT_WORK) private readonly work: AgentWork,
    private readonly keys: ApiKeysService,
    private readonly executor: SagaExecutor,
    private readonly sagas: SagasService,
  ) {}

  @Post('agents/:agentId/keys')
  @ApiOperation({
    summary: 'Create an agent key',
    description: "Creates a key its instances use to heartbeat and poll as this agent (role agent: the /v1/agent routes only); the key itself is shown only in this answer. Decommissioning the agent revokes its keys.",
  })
  @ApiCreatedResponse({ type: AgentKeyCreatedDto })
  @ApiProblems([400, 'agentId is not a UUID, or the body fails validation'], [404, "unknown agent, or another tenant's"], [422, 'the agent is neither PROVISIONING nor ACTIVE'])
  async createAgentKey(@UuidParam('agentId') agentId: string, @Body() body: CreateAgentKeyDto, @TenantScope() scope: string | undefined): Promise<AgentKeyCreatedDto> {
    const agent = await getAgent(this.pool, agentId, scope);
    if (!KEYABLE.includes(agent.status)) throw unprocessable(`agent ${agentId} is ${agent.status}: keys are given to PROVISIONING or ACTIVE agents only`);
    const { id, key } = await this.keys.create(agent.tenantId, 'agent', body.name, agentId);
    return { id, key, agentId };
  }

  @Post('agents/:agentId/decommission')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Decommission an agent',
    description:
      'Starts an agent-decommissioning saga: its instances stop, its service is deregistered, its permissions and keys revoked, its resources released. Once per agent: asking again answers the saga already started.',
  })
  @ApiAcceptedResponse({
    type: AgentDecommissioningAcceptedDto,
    description: 'the decommissioning saga is started (or was before)',
    headers: { Location: { description: '/v1/sagas/{sagaId}', schema: { type: 'string' } } },
  })
  @ApiProblems([400, 'agentId is not a UUID, or the body fails validation'], [404, "unknown agent, or another tenant's"], [422, 'the agent is DECOMMISSIONED'])
  async decommissionAgent(
    @UuidParam('agentId') agentId: string,
    @Body() body: DecommissionAgentDto,
    @TenantScope() scope: string | undefined,
    @Caller() caller: Principal,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AgentDecommissioningAcceptedDto> {
    const agent = await getAgent(this.pool, agentId, scope);
    if (agent.status === 'DECOMMISSIONED') throw unprocessable(`agent ${agentId} is already DECOMMISSIONED`);
    const started = await this.startDecommissioning(agent.tenantId, agentId, body.reason, { correlationId, actor: actorOf(caller) });
    const location = `/v1/sagas/${started.sagaId}`;
    res.setHeader('Location', location);
    return { sagaId: started.sagaId, type: DECOMMISSIONING, status: started.status, location };
  }

  @Get('queues')
  @ApiOperation({
    summary: 'List agent queues',
    description: "The tenant's agent task queues, one per capability: pending, locked and delayed tasks, the oldest pending task's age, and the health of the agents that serve it. The admin key names the tenant in X-Tenant-Id.",
  })
  @ApiOkResponse({ type: [QueueDto] })
  @ApiProblems([400, 'the admin key names no tenant (X-Tenant-Id)'])
  listQueues(@ActingTenant() tenantId: string): Promise<QueueDto[]> {
    return this.work.queues(tenantId);
  }

  /**
   * One decommissioning per agent (idempotency key `decommission:<agentId>`): a second request, even
   * with another reason, answers the saga already started rather than a conflict.
   */
  private async startDecommissioning(tenantId: string, agentId: string, reason: string, metadata: { correlationId: string; actor: string }): Promise<{ sagaId: string; status: string }> {
    try {
      return await this.executor.start({ tenantId, sagaType: DECOMMISSIONING_TYPE, input: { agentId, reason }, idempotencyKey: `decommission:${agentId}`, metadata });
    } catch (err) {
      if (!(err instanceof IdempotencyConflictError)) throw err;
      const { state } = await this.sagas.load(err.sagaId, tenantId);
      // The key is the tenant's: a client's start may have taken it for another saga (then a 409).
      if (state.sagaType !== DECOMMISSIONING_TYPE) throw err;
      return { sagaId: err.sagaId, status: state.status };
    }
  }
}
