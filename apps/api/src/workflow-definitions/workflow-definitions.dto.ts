import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Matches, ValidateNested } from 'class-validator';
import { MAX_WORKFLOW_VERSION, WORKFLOW_DEFINITION_NAME_PATTERN } from '@app/domain';
import { MAX_PARALLEL_LIMIT } from '@app/sagas';
import { BoundedInt, BoundedString, OptionalNotNull } from '../http/fields';
import { PageDto } from '../http/page.dto';
import { PageQueryDto } from '../http/page-query.dto';
import { MAX_WORKFLOW_TASKS, WorkflowTaskDto } from '../sagas/start-task-workflow.dto';

/** What the saga does when a step fails for good (API.md, both start bodies). */
export const ON_FAILURE = ['compensate', 'suspend'] as const;
const NAME = { pattern: WORKFLOW_DEFINITION_NAME_PATTERN.source, example: 'checkout' };
const NAME_MESSAGE = `name must match ${WORKFLOW_DEFINITION_NAME_PATTERN.source}`;

/** `POST /v1/workflow-definitions`: a task workflow to store as a version of `name`. */
export class CreateWorkflowDefinitionDto {
  @ApiProperty(NAME)
  @IsString()
  @Matches(WORKFLOW_DEFINITION_NAME_PATTERN, { message: NAME_MESSAGE })
  name: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_WORKFLOW_VERSION, description: 'default: the latest version + 1 (1 for a new name)' })
  @OptionalNotNull()
  @BoundedInt(1, MAX_WORKFLOW_VERSION)
  version?: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: 1000, example: 'charge the card, then ship' })
  @OptionalNotNull()
  @BoundedString(1000)
  description?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PARALLEL_LIMIT, default: 4 })
  @OptionalNotNull()
  @BoundedInt(1, MAX_PARALLEL_LIMIT)
  maxParallel?: number;

  @ApiPropertyOptional({ enum: ON_FAILURE, default: 'compensate', description: 'for the sagas started from it, unless the start says otherwise' })
  @OptionalNotNull()
  @IsIn(ON_FAILURE)
  onFailure?: (typeof ON_FAILURE)[number];

  @ApiProperty({
    type: [WorkflowTaskDto],
    minItems: 1,
    maxItems: MAX_WORKFLOW_TASKS,
    description: 'as in a task-workflow start; configs may also read the start input: {{ input.path }}',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_WORKFLOW_TASKS)
  @ValidateNested({ each: true })
  @Type(() => WorkflowTaskDto)
  tasks: WorkflowTaskDto[];
}

export class WorkflowDefinitionCreatedDto {
  @ApiProperty(NAME) name: string;
  @ApiProperty({ minimum: 1, example: 1 }) version: number;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class WorkflowDefinitionSummaryDto {
  @ApiProperty(NAME) name: string;
  @ApiProperty({ minimum: 1, example: 3 }) latestVersion: number;
  @ApiPropertyOptional({ description: 'the latest version’s' }) description?: string;
  @ApiProperty({ format: 'date-time', description: 'when the latest version was stored' }) updatedAt: string;
}

export class WorkflowDefinitionPageDto extends PageDto(WorkflowDefinitionSummaryDto, { items: 'by name', nextCursor: 'present when more definitions follow' }) {}

export class ListWorkflowDefinitionsQueryDto extends PageQueryDto(50) {}

export class WorkflowDefinitionVersionRefDto {
  @ApiProperty({ minimum: 1 }) version: number;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class WorkflowDefinitionDto {
  @ApiProperty(NAME) name: string;
  @ApiProperty({ type: [WorkflowDefinitionVersionRefDto], description: 'oldest first' }) versions: WorkflowDefinitionVersionRefDto[];
}

/** One stored version: the body as it was submitted, with its name, version and creation time. */
export class WorkflowDefinitionVersionDto {
  @ApiProperty(NAME) name: string;
  @ApiProperty({ minimum: 1 }) version: number;
  @ApiPropertyOptional() description?: string;
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PARALLEL_LIMIT }) maxParallel?: number;
  @ApiPropertyOptional({ enum: ON_FAILURE }) onFailure?: (typeof ON_FAILURE)[number];
  @ApiProperty({ type: [WorkflowTaskDto] }) tasks: WorkflowTaskDto[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}
