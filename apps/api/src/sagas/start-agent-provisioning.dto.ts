import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsDefined,
  IsInt,
  IsNotEmptyObject,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';

/** Upper bound of one resource figure (the tenant quota uses the same). */
export const MAX_RESOURCE = 1_000_000_000;

export class AgentResourcesDto {
  @ApiProperty({ minimum: 0, maximum: MAX_RESOURCE, example: 500 })
  @IsInt()
  @Min(0)
  @Max(MAX_RESOURCE)
  cpuMillis: number;

  @ApiProperty({ minimum: 0, maximum: MAX_RESOURCE, example: 512 })
  @IsInt()
  @Min(0)
  @Max(MAX_RESOURCE)
  memoryMb: number;
}

export class InitialTaskDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'smoke test' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'echo', description: 'a registered task handler' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  handler: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { hello: 'world' } })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;
}

export class AgentSpecDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'billing-bot' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'worker' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  type: string;

  @ApiProperty({ type: [String], maxItems: 100, example: ['invoices'] })
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(100, { each: true })
  capabilities: string[];

  @ApiProperty({ type: [String], maxItems: 100, example: ['read'] })
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(100, { each: true })
  permissions: string[];

  @ApiProperty({ type: AgentResourcesDto })
  @IsDefined()
  @IsNotEmptyObject()
  @ValidateNested()
  @Type(() => AgentResourcesDto)
  resources: AgentResourcesDto;

  @ApiPropertyOptional({ type: InitialTaskDto, description: 'run once as a smoke test before the agent is activated' })
  @IsOptional()
  @IsNotEmptyObject()
  @ValidateNested()
  @Type(() => InitialTaskDto)
  initialTask?: InitialTaskDto;
}

export class StartAgentProvisioningDto {
  @ApiProperty({ type: AgentSpecDto })
  @IsDefined()
  @IsNotEmptyObject()
  @ValidateNested()
  @Type(() => AgentSpecDto)
  agent: AgentSpecDto;
}
