import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsObject, IsOptional } from 'class-validator';
import { BoundedInt, BoundedString, Nested, StringList } from '../http/fields';

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

export class InitialTaskDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'smoke test' })
  @BoundedString(200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'echo', description: 'a registered task handler' })
  @BoundedString(100)
  handler: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { hello: 'world' } })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;
}

export class AgentSpecDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'billing-bot' })
  @BoundedString(200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'worker' })
  @BoundedString(100)
  type: string;

  @ApiProperty({ type: [String], maxItems: 100, example: ['invoices'] })
  @StringList(100, 100)
  capabilities: string[];

  @ApiProperty({ type: [String], maxItems: 100, example: ['read'] })
  @StringList(100, 100)
  permissions: string[];

  @ApiProperty({ type: AgentResourcesDto })
  @IsDefined()
  @Nested(() => AgentResourcesDto)
  resources: AgentResourcesDto;

  @ApiPropertyOptional({ type: InitialTaskDto, description: 'run once as a smoke test before the agent is activated' })
  @IsOptional()
  @Nested(() => InitialTaskDto)
  initialTask?: InitialTaskDto;
}

export class StartAgentProvisioningDto {
  @ApiProperty({ type: AgentSpecDto })
  @IsDefined()
  @Nested(() => AgentSpecDto)
  agent: AgentSpecDto;
}
