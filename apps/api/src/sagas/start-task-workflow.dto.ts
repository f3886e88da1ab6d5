import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsObject, IsOptional, IsString, Matches, registerDecorator, ValidateIf, ValidateNested } from 'class-validator';
import { MAX_WORKFLOW_VERSION, WORKFLOW_DEFINITION_NAME_PATTERN } from '@app/domain';
import { MAX_PARALLEL_LIMIT, PriorityName, registerBuiltinHandlers, TASK_ID_PATTERN, TaskHandlerRegistry } from '@app/sagas';
import { BoundedInt, BoundedString, Nested, NestedObject, OptionalNotNull } from '../http/fields';
import { IsJsonObject } from '../streams/streams.validators';
import { SagaStartOptionsDto } from './start-options.dto';

export const MAX_WORKFLOW_TASKS = 500;
export const PRIORITIES: PriorityName[] = ['LOW', 'NORMAL', 'HIGH', 'CRITICAL'];
// The same bounds the saga library checks (validateWorkflow), refused here with field paths.
const MAX_ATTEMPTS = 100;
const MAX_BACKOFF_MS = 3_600_000;
const MAX_TIMEOUT_MS = 86_400_000;
/** Queue delays and time-to-live: at most a year. */
export const MAX_QUEUE_MS = 31_536_000_000;
/** A handler name: a registered one, or `agent:` and a capability of up to 100 characters. */
export const MAX_HANDLER_NAME = 106;
// For the documentation only: an unknown handler is refused (400) by the workflow's validation.
const BUILTIN_HANDLER_NAMES = registerBuiltinHandlers(new TaskHandlerRegistry()).names().join(', ');

export class TaskRetryDto {
  @ApiProperty({ minimum: 1, maximum: MAX_ATTEMPTS, example: 3 })
  @BoundedInt(1, MAX_ATTEMPTS)
  maxAttempts: number;

  @ApiProperty({ minimum: 0, maximum: MAX_BACKOFF_MS, example: 200, description: 'first backoff; doubles per attempt (with jitter, capped at 30 s)' })
  @BoundedInt(0, MAX_BACKOFF_MS)
  backoffMs: number;
}

export class TaskQueueDto {
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_QUEUE_MS, default: 0, description: 'agent tasks: held back this long before an instance may take it' })
  @OptionalNotNull()
  @BoundedInt(0, MAX_QUEUE_MS)
  delayMs?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_QUEUE_MS, description: 'agent tasks: fails (EXPIRED, not retried) when no instance has taken it within this long; default: no limit' })
  @OptionalNotNull()
  @BoundedInt(1, MAX_QUEUE_MS)
  ttlMs?: number;
}

export class TaskCompensationDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_HANDLER_NAME, example: 'echo' })
  @BoundedString(MAX_HANDLER_NAME)
  handler: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'may reference upstream outputs and its own task output: {{ taskId.output.path }} (in a stored definition also {{ input.path }})' })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;
}

export class WorkflowTaskDto {
  @ApiProperty({ pattern: TASK_ID_PATTERN.source, example: 'fetch' })
  @IsString()
  @Matches(TASK_ID_PATTERN, { message: `id must match ${TASK_ID_PATTERN.source}` })
  id: string;

  @ApiProperty({
    minLength: 1,
    maxLength: MAX_HANDLER_NAME,
    example: 'http',
    description: `built-in: ${BUILTIN_HANDLER_NAMES}; a handler the deployment registers; or agent:<capability>, queued for the tenant's agents with that capability`,
  })
  @BoundedString(MAX_HANDLER_NAME)
  handler: string;

  @ApiProperty({ type: [String], maxItems: MAX_WORKFLOW_TASKS, example: [] })
  @IsArray()
  @ArrayMaxSize(MAX_WORKFLOW_TASKS)
  @IsString({ each: true })
  @Matches(TASK_ID_PATTERN, { each: true, message: `each dependsOn entry must be a task id (${TASK_ID_PATTERN.source})` })
  dependsOn: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'string values may reference upstream outputs: {{ taskId.output.path }} (in a stored definition also the start input: {{ input.path }})' })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;

  @ApiPropertyOptional({ enum: PRIORITIES, default: 'NORMAL' })
  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: PriorityName;

  @ApiPropertyOptional({ type: TaskRetryDto, description: 'default: 3 attempts, 200 ms backoff' })
  @IsOptional()
  @Nested(() => TaskRetryDto)
  retry?: TaskRetryDto;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TIMEOUT_MS, default: 30_000 })
  @IsOptional()
  @BoundedInt(1, MAX_TIMEOUT_MS)
  timeoutMs?: number;

  @ApiPropertyOptional({ type: TaskQueueDto, description: 'agent tasks (agent:<capability>): delay and time-to-live in the queue' })
  @OptionalNotNull()
  @NestedObject(() => TaskQueueDto)
  queue?: TaskQueueDto;

  @ApiPropertyOptional({ type: TaskCompensationDto, description: 'run (in reverse completion order) when the workflow fails after this task succeeded' })
  @IsOptional()
  @Nested(() => TaskCompensationDto)
  compensation?: TaskCompensationDto;
}

/** Which stored workflow definition a start runs. */
export class WorkflowDefinitionRefDto {
  @ApiProperty({ pattern: WORKFLOW_DEFINITION_NAME_PATTERN.source, example: 'checkout' })
  @IsString()
  @Matches(WORKFLOW_DEFINITION_NAME_PATTERN, { message: `name must match ${WORKFLOW_DEFINITION_NAME_PATTERN.source}` })
  name: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_WORKFLOW_VERSION, description: 'default: the latest version' })
  @OptionalNotNull()
  @BoundedInt(1, MAX_WORKFLOW_VERSION)
  version?: number;
}

const listsTasks = (o: StartTaskWorkflowDto) => o.definition === undefined;

/** A field that only a start from a stored definition (`definition`) may have. */
const OnlyWithDefinition = (): PropertyDecorator => (target: object, propertyName: string | symbol) =>
  registerDecorator({
    name: 'onlyWithDefinition',
    target: target.constructor,
    propertyName: propertyName as string,
    options: { message: '$property is only for a start from a stored definition (definition)' },
    validator: { validate: (value: unknown, args) => value === undefined || (args?.object as StartTaskWorkflowDto).definition !== undefined },
  });

/**
 * A task-workflow start: its tasks (`name`, `tasks`, `maxParallel?`), or a stored definition
 * (`definition`, `input?`) whose tasks are copied into the saga when it starts.
 */
export class StartTaskWorkflowDto extends SagaStartOptionsDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200, example: 'nightly import', description: 'required unless `definition` is given' })
  @ValidateIf(listsTasks)
  @BoundedString(200)
  name: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PARALLEL_LIMIT, default: 4 })
  @IsOptional()
  @BoundedInt(1, MAX_PARALLEL_LIMIT)
  maxParallel?: number;

  @ApiPropertyOptional({ type: [WorkflowTaskDto], minItems: 1, maxItems: MAX_WORKFLOW_TASKS, description: 'required unless `definition` is given' })
  @ValidateIf(listsTasks)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_WORKFLOW_TASKS)
  @ValidateNested({ each: true })
  @Type(() => WorkflowTaskDto)
  tasks: WorkflowTaskDto[];

  @ApiPropertyOptional({
    type: WorkflowDefinitionRefDto,
    description: 'start a stored workflow definition instead of listing tasks (then without name, maxParallel and tasks); unknown definition or version: 400',
  })
  @OptionalNotNull()
  @Nested(() => WorkflowDefinitionRefDto)
  definition?: WorkflowDefinitionRefDto;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'with `definition`: what its templates read as {{ input.path }}' })
  @OptionalNotNull()
  @IsJsonObject()
  @OnlyWithDefinition()
  input?: Record<string, unknown>;
}
