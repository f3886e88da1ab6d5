import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import { SERVICE_STATUSES } from '@app/domain';
import { PageDto } from '../http/page.dto';
import { PageQueryDto } from '../http/page-query.dto';
import { AnyJsonProperty } from '../http/any-json.docs';
import { AgentScalingDto } from '../sagas/start-agent-provisioning.dto';

export const AGENT_STATUSES = ['PROVISIONING', 'ACTIVE', 'DECOMMISSIONED'] as const;
export const TASK_STATUSES = ['SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'COMPENSATED', 'CANCELLED'] as const;

/** Page size of the read-model lists when the query has no `limit`. */
const READ_MODEL_PAGE = 100;

export class CapabilityFilterDto extends PageQueryDto(READ_MODEL_PAGE) {
  @ApiPropertyOptional({ example: 'search', description: 'only entries that have this capability' })
  @IsOptional()
  @IsString()
  @Matches(/^[^\u0000]{1,100}$/, { message: 'capability must be 1 to 100 characters' })
  capability?: string;
}

export class ListAgentsQueryDto extends CapabilityFilterDto {
  @ApiPropertyOptional({ enum: AGENT_STATUSES })
  @IsOptional()
  @IsIn(AGENT_STATUSES)
  status?: (typeof AGENT_STATUSES)[number];
}

export class ListTasksQueryDto extends PageQueryDto(READ_MODEL_PAGE) {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID(undefined, { message: 'sagaId must be a UUID' })
  sagaId?: string;

  @ApiPropertyOptional({ enum: TASK_STATUSES })
  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: (typeof TASK_STATUSES)[number];
}

export class ListServicesQueryDto extends CapabilityFilterDto {
  @ApiPropertyOptional({ enum: SERVICE_STATUSES })
  @IsOptional()
  @IsIn(SERVICE_STATUSES)
  status?: (typeof SERVICE_STATUSES)[number];
}

export class ResourcesDto {
  @ApiProperty() cpuMillis: number;
  @ApiProperty() memoryMb: number;
}

export class AgentDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() name: string;
  @ApiProperty() type: string;
  @ApiProperty({ enum: AGENT_STATUSES }) status: string;
  @ApiProperty({ type: [String] }) capabilities: string[];
  @ApiProperty({ type: [String] }) permissions: string[];
  @ApiProperty({ type: ResourcesDto }) resources: ResourcesDto;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'the saga that provisioned it' }) sagaId: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class AgentPageDto extends PageDto(AgentDto) {}

export class AgentInstanceLoadDto {
  @ApiPropertyOptional() cpuPercent?: number;
  @ApiPropertyOptional() memoryMb?: number;
  @ApiPropertyOptional() inFlight?: number;
}

export class AgentInstanceDto {
  @ApiProperty({ example: 'billing-bot-7d9f-1' }) instanceId: string;
  @ApiProperty({ enum: SERVICE_STATUSES }) status: string;
  @ApiProperty({ format: 'date-time' }) lastHeartbeatAt: string;
  @ApiPropertyOptional({ type: AgentInstanceLoadDto, description: 'the load its last heartbeat reported' }) load?: AgentInstanceLoadDto;
}

/** One agent: the read model's row, its scaling policy and target, and its instances. */
export class AgentDetailDto extends AgentDto {
  @ApiProperty({ type: AgentScalingDto, description: 'default: { strategy: FIXED, min: 1, max: 1 }' }) scaling: AgentScalingDto;
  @ApiProperty({ description: 'the instances the scaling policy wants now, within [min, max]' }) desiredInstances: number;
  @ApiProperty({ type: [AgentInstanceDto], description: 'the instances that have heartbeated' }) instances: AgentInstanceDto[];
}

export class TaskDto {
  @ApiProperty({ format: 'uuid' }) taskId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) sagaId: string | null;
  @ApiProperty() name: string;
  @ApiProperty() handler: string;
  @ApiProperty({ enum: TASK_STATUSES }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) config: unknown;
  @AnyJsonProperty('the handler’s output (any JSON)', { nullable: true }) output: unknown;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiProperty() attempts: number;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class TaskPageDto extends PageDto(TaskDto) {}

export class ServiceDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: [String] }) capabilities: string[];
  @ApiProperty({ enum: SERVICE_STATUSES }) status: string;
  @ApiProperty({ format: 'date-time' }) registeredAt: string;
}

export class ServicePageDto extends PageDto(ServiceDto) {}

export class SagaCountDto {
  @ApiProperty({ example: 'agent-provisioning' }) type: string;
  @ApiProperty({ example: 'COMPLETED' }) status: string;
  @ApiProperty() count: number;
}

export class SagaDurationDto {
  @ApiProperty({ example: 'agent-provisioning' }) type: string;
  @ApiProperty({ type: Number, nullable: true, description: 'median duration of finished sagas, ms' }) p50Ms: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '95th percentile duration of finished sagas, ms' }) p95Ms: number | null;
  @ApiProperty({ description: 'finished sagas the percentiles are computed from' }) finished: number;
}

export class SagaStatsDto {
  @ApiProperty({ type: [SagaCountDto] }) byTypeAndStatus: SagaCountDto[];
  @ApiProperty({ type: [SagaDurationDto] }) durations: SagaDurationDto[];
}
