import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SAGA_STATUSES as CORE_SAGA_STATUSES, SAGA_TYPES, SagaStatus, SagaType, StepStatus } from '@app/sagas';
import { PageDocs, PageDto } from '../http/page.dto';
import { EventMetadataDto } from '../streams/streams.dto';
import { AnyJsonProperty } from '../http/any-json.docs';

export const SAGA_STATUSES: SagaStatus[] = [...CORE_SAGA_STATUSES];
export const STEP_STATUSES: StepStatus[] = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED', 'SKIPPED'];
export const COMPENSATION_STATUSES = ['STARTED', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const;
export type CompensationStatus = (typeof COMPENSATION_STATUSES)[number];

/** The saga lists: newest first, keyset cursors. */
const NEWEST_FIRST: PageDocs = { items: 'newest first', nextCursor: 'pass as `cursor` for the next page; absent on the last page' };

export class SagaAcceptedDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty({ enum: SAGA_TYPES }) type: SagaType;
  @ApiProperty({ enum: SAGA_STATUSES }) status: string;
  @ApiProperty({ example: '/v1/sagas/6f1c0a4e-6d8e-4a53-9b7a-0c5f1b2d3e4f' }) location: string;
}

export class SagaStepDto {
  @ApiProperty({ description: 'the step name; for task-workflow sagas the task id' }) name: string;
  @ApiProperty({ enum: STEP_STATUSES }) status: StepStatus;
  @ApiProperty() attempts: number;
  @ApiPropertyOptional({ format: 'date-time' }) startedAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
  @AnyJsonProperty('any JSON', { required: false }) output?: unknown;
  @ApiPropertyOptional() error?: string;
  @ApiPropertyOptional({ enum: ['TIMEOUT', 'EXPIRED', 'LOCK_EXPIRED', 'CANCELLED', 'CIRCUIT_OPEN'], description: 'set where the platform decided the failure' })
  errorCode?: string;
}

export class SagaProgressDto {
  @ApiProperty() completedSteps: number;
  @ApiProperty() totalSteps: number;
  @ApiProperty({ minimum: 0, maximum: 100 }) percent: number;
}

export class StepQueueDto {
  @ApiProperty({ description: 'the capability it was queued for (`initial` for an initial task addressed to its agent)' }) capability: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'the agent holding it, or the one it is addressed to' }) agentId?: string;
  @ApiPropertyOptional({ format: 'date-time' }) lockedUntil?: string;
}

export class StepProgressDto {
  @ApiProperty({ minimum: 0, maximum: 100 }) percent: number;
  @ApiPropertyOptional() message?: string;
}

export class WaitingForDto {
  @ApiProperty({ description: 'the signal name a `wait` task waits for' }) signal: string;
}

/** A step of the saga view: a step run by an agent also shows its queue and reported progress. */
export class SagaViewStepDto extends SagaStepDto {
  @ApiPropertyOptional({ type: WaitingForDto, description: 'a running `wait` task: the signal it waits for' }) waitingFor?: WaitingForDto;
  @ApiPropertyOptional({ type: StepQueueDto, description: 'while the step waits in, or is held from, an agent queue' }) queue?: StepQueueDto;
  @ApiPropertyOptional({ type: StepProgressDto, description: 'reported by the agent running it' }) progress?: StepProgressDto;
}

/** The stored workflow definition a saga was started from. */
export class SagaDefinitionRefDto {
  @ApiProperty({ example: 'checkout' }) name: string;
  @ApiProperty({ minimum: 1, example: 2 }) version: number;
}

export class SagaViewDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ enum: SAGA_TYPES }) type: SagaType;
  @ApiProperty({ enum: SAGA_STATUSES }) status: SagaStatus;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'the start request body' }) input: unknown;
  @ApiProperty({ type: [SagaViewStepDto] }) steps: SagaViewStepDto[];
  @ApiProperty({ type: SagaProgressDto, description: 'completed ÷ total steps' }) progress: SagaProgressDto;
  @ApiPropertyOptional({ type: SagaDefinitionRefDto, description: 'task workflows started from a stored definition: the version they run' }) definition?: SagaDefinitionRefDto;
  @ApiProperty({ description: "version of the saga stream's last event" }) version: number;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
}

/** A row of the saga_summaries read model (eventually consistent with the saga's stream). */
export class SagaSummaryDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ enum: SAGA_TYPES }) type: SagaType;
  @ApiProperty({ enum: SAGA_STATUSES }) status: SagaStatus;
  @ApiProperty({ type: [SagaStepDto] }) steps: SagaStepDto[];
  @ApiPropertyOptional({ description: 'the step whose failure started the compensation' }) failedStep?: string;
  @ApiPropertyOptional({ type: SagaDefinitionRefDto, description: 'the stored workflow definition it was started from' }) definition?: SagaDefinitionRefDto;
  @ApiProperty() version: number;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
  @ApiPropertyOptional() durationMs?: number;
}

export class SagaPageDto extends PageDto(SagaSummaryDto, NEWEST_FIRST) {}

/** The store's event metadata, under the schema name the saga routes have always documented. */
export class SagaEventMetadataDto extends EventMetadataDto {}

export class SagaEventDto {
  @ApiProperty({ format: 'uuid' }) eventId: string;
  @ApiProperty() streamId: string;
  @ApiProperty() version: number;
  @ApiProperty() globalPosition: number;
  @ApiProperty() type: string;
  @ApiProperty() schemaVersion: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) data: unknown;
  @ApiProperty({ type: SagaEventMetadataDto }) metadata: SagaEventMetadataDto;
  @ApiProperty({ format: 'date-time' }) recordedAt: string;
}

export class SagaEventsDto {
  @ApiProperty({ example: 'saga-6f1c0a4e-6d8e-4a53-9b7a-0c5f1b2d3e4f' }) streamId: string;
  @ApiProperty({ description: "version of the stream's last event" }) version: number;
  @ApiProperty({ type: [SagaEventDto] }) events: SagaEventDto[];
}

export class CompensationEntryDto {
  @ApiProperty() step: string;
  @ApiProperty({ enum: COMPENSATION_STATUSES }) status: CompensationStatus;
  @ApiProperty() attempt: number;
  @ApiPropertyOptional() error?: string;
  @ApiPropertyOptional({ description: 'the operator key, for SKIPPED entries' }) actor?: string;
  @ApiPropertyOptional() reason?: string;
  @ApiProperty({ format: 'date-time' }) at: string;
}

export class SagaCompensationsDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty({ enum: SAGA_STATUSES }) status: SagaStatus;
  @ApiProperty({ type: [CompensationEntryDto], description: 'in the order they happened' }) entries: CompensationEntryDto[];
}

export class CompensationLogItemDto extends CompensationEntryDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
}

export class CompensationLogPageDto extends PageDto(CompensationLogItemDto, NEWEST_FIRST) {}
