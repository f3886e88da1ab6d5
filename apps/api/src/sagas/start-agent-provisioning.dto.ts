import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsIn, IsObject, IsOptional, ValidateIf } from 'class-validator';
import { MAX_INSTANCES, SCALING_STRATEGIES, ScalingStrategy } from '@app/agents';
import { CAPABILITY_PATTERN } from '@app/sagas';
import { BoundedInt, BoundedString, Nested, NestedObject, NotLessThan, OptionalNotNull, StringList } from '../http/fields';
import { MAX_HANDLER_NAME, MAX_QUEUE_MS } from './start-task-workflow.dto';
import { SagaStartOptionsDto } from './start-options.dto';

/** Upper bound of one resource figure (the tenant quota uses the same). */
export const MAX_RESOURCE = 1_000_000_000;

export class AgentResourcesDto {
  @ApiProperty({ minimum: 0, maximum: MAX_RESOURCE, example: 500 })
  @BoundedInt(0, MAX_RESOURCE)
  cpuMillis: number;

  @ApiProperty({ minimum: 0, maximum: MAX_RESOURCE, example: 512 })
  @BoundedInt(0, MAX_RESOURCE)
  memoryMb: number;
}

const MAX_PENDING_PER_INSTANCE = 1_000_000;

/** How many instances an agent should run (API.md "Scaling"); always within [min, max]. */
export class AgentScalingDto {
  @ApiProperty({
    enum: SCALING_STRATEGIES,
    example: 'WORKLOAD_BASED',
    description: 'FIXED: min; WORKLOAD_BASED: pending tasks ÷ targetPendingPerInstance; PERFORMANCE_BASED: instances × average CPU ÷ targetCpuPercent; AUTO: the larger',
  })
  @IsIn(SCALING_STRATEGIES)
  strategy: ScalingStrategy;

  @ApiProperty({ minimum: 0, maximum: MAX_INSTANCES, example: 1, description: 'the provisioning reserves the resources of min instances' })
  @BoundedInt(0, MAX_INSTANCES)
  min: number;

  @ApiProperty({ minimum: 1, maximum: MAX_INSTANCES, example: 4, description: 'at least min' })
  @NotLessThan('min')
  @BoundedInt(1, MAX_INSTANCES)
  max: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PENDING_PER_INSTANCE, example: 10, description: 'required for WORKLOAD_BASED; AUTO needs this or targetCpuPercent' })
  @ValidateIf(
    (o: AgentScalingDto) =>
      o.strategy === 'WORKLOAD_BASED' || (o.strategy === 'AUTO' && o.targetCpuPercent === undefined) || o.targetPendingPerInstance !== undefined,
  )
  @BoundedInt(1, MAX_PENDING_PER_INSTANCE)
  targetPendingPerInstance?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, example: 70, description: 'required for PERFORMANCE_BASED' })
  @ValidateIf((o: AgentScalingDto) => o.strategy === 'PERFORMANCE_BASED' || o.targetCpuPercent !== undefined)
  @BoundedInt(1, 100)
  targetCpuPercent?: number;
}

export class InitialTaskQueueDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_QUEUE_MS, default: 120_000, description: 'the agent must take the task within this long, else the provisioning fails (EXPIRED)' })
  @OptionalNotNull()
  @BoundedInt(1, MAX_QUEUE_MS)
  ttlMs?: number;
}

export class InitialTaskDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'smoke test' })
  @BoundedString(200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: MAX_HANDLER_NAME, example: 'echo', description: 'a registered task handler, or `agent`: the task runs on the agent being provisioned' })
  @BoundedString(MAX_HANDLER_NAME)
  handler: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { hello: 'world' } })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;

  @ApiPropertyOptional({ type: InitialTaskQueueDto, description: 'for handler `agent`: how long the agent may take to take the task' })
  @OptionalNotNull()
  @NestedObject(() => InitialTaskQueueDto)
  queue?: InitialTaskQueueDto;
}

export class AgentSpecDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'billing-bot' })
  @BoundedString(200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'worker' })
  @BoundedString(100)
  type: string;

  @ApiProperty({
    type: [String],
    maxItems: 100,
    example: ['invoices'],
    description: `what the agent can do: tasks with handler \`agent:<capability>\` are queued for it (a capability a task can name matches ${CAPABILITY_PATTERN.source})`,
  })
  @StringList(100, 100)
  capabilities: string[];

  @ApiProperty({ type: [String], maxItems: 100, example: ['read'] })
  @StringList(100, 100)
  permissions: string[];

  @ApiProperty({ type: AgentResourcesDto })
  @IsDefined()
  @Nested(() => AgentResourcesDto)
  resources: AgentResourcesDto;

  @ApiPropertyOptional({ type: AgentScalingDto, description: 'default: { strategy: FIXED, min: 1, max: 1 }' })
  @OptionalNotNull()
  @Nested(() => AgentScalingDto)
  scaling?: AgentScalingDto;

  @ApiPropertyOptional({ type: InitialTaskDto, description: 'run once as a smoke test before the agent is activated' })
  @IsOptional()
  @Nested(() => InitialTaskDto)
  initialTask?: InitialTaskDto;
}

export class StartAgentProvisioningDto extends SagaStartOptionsDto {
  @ApiProperty({ type: AgentSpecDto })
  @IsDefined()
  @Nested(() => AgentSpecDto)
  agent: AgentSpecDto;
}
