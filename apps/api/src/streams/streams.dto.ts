import { Type as Class } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  ValidateNested,
} from 'class-validator';
import { ExpectedVersion } from '@app/event-store';
import { OptionalQueryInt } from '../http/params';
import { EXPECTED_VERSION_KEYWORDS, HasUniqueEventIds, IsExpectedVersion, IsJsonObject } from './streams.validators';

export const MAX_EVENTS_PER_REQUEST = 1000;
export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/;
export const CATEGORY_PATTERN = /^[A-Za-z0-9_.]{1,100}$/;

export class NewEventDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'makes the append idempotent; generated when absent' })
  @IsOptional()
  @IsUUID(undefined, { message: 'eventId must be a UUID' })
  eventId?: string;

  @ApiProperty({ pattern: EVENT_TYPE_PATTERN.source, example: 'OrderPlaced', maxLength: 200 })
  @IsString()
  @Matches(EVENT_TYPE_PATTERN, { message: 'type must be 1 to 200 characters [A-Za-z0-9_.:-], starting with a letter' })
  type: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { orderId: 'o-1', total: 42 } })
  @IsJsonObject()
  data: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'merged into the stored metadata; tenantId, correlationId and actor are set by the platform',
  })
  @IsOptional()
  @IsJsonObject()
  metadata?: Record<string, unknown>;
}

export class AppendEventsDto {
  @ApiProperty({
    oneOf: [
      { type: 'integer', minimum: -1, description: 'version of the last event (0-based); -1: the stream must not exist' },
      { type: 'string', enum: [...EXPECTED_VERSION_KEYWORDS] },
    ],
    example: 'any',
  })
  @IsExpectedVersion()
  expectedVersion: ExpectedVersion;

  @ApiProperty({ type: [NewEventDto], minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_EVENTS_PER_REQUEST)
  // ValidateNested alone lets a nested array (`[[]]`) through as an "event" with no fields.
  @IsObject({ each: true, message: 'each event must be an object' })
  @HasUniqueEventIds()
  @ValidateNested({ each: true })
  @Type(() => NewEventDto)
  events: NewEventDto[];
}

export class AppendResultDto {
  @ApiProperty() streamId: string;
  @ApiProperty({ description: 'version of the first event appended' }) firstVersion: number;
  @ApiProperty({ description: 'version of the last event appended: the expectedVersion of the next append' }) nextExpectedVersion: number;
  @ApiProperty({ description: 'global position of the last event appended' }) globalPosition: number;
}

/**
 * `fromVersion`, `limit` and `direction` of a stream read, as a base class of a route's query DTO:
 * `defaultLimit` is that route's page size when `limit` is absent (filled in here).
 */
export function StreamReadQueryDto(defaultLimit: number): Class<{ fromVersion?: number; limit: number; direction: 'forward' | 'backward' }> {
  class StreamReadQuery {
    @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'inclusive; forward defaults to 0, backward to the last event' })
    @OptionalQueryInt(0, Number.MAX_SAFE_INTEGER)
    fromVersion?: number;

    @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_EVENTS_PER_REQUEST, default: defaultLimit })
    @OptionalQueryInt(1, MAX_EVENTS_PER_REQUEST)
    limit: number = defaultLimit;

    @ApiPropertyOptional({ enum: ['forward', 'backward'], default: 'forward' })
    @IsOptional()
    @IsIn(['forward', 'backward'])
    direction: 'forward' | 'backward' = 'forward';
  }
  return StreamReadQuery;
}

export class ReadStreamQueryDto extends StreamReadQueryDto(100) {}

export class StreamStateQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: 'replay up to this version (inclusive); beyond the last event the state at the end is returned, with the version reached',
  })
  @OptionalQueryInt(0, Number.MAX_SAFE_INTEGER)
  atVersion?: number;
}

export class ReadAllQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, default: 0, description: 'exclusive global position: pass the lastPosition of the previous page' })
  @OptionalQueryInt(0, Number.MAX_SAFE_INTEGER)
  after?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @OptionalQueryInt(1, 1000)
  limit?: number;

  @ApiPropertyOptional({ pattern: CATEGORY_PATTERN.source, example: 'saga' })
  @IsOptional()
  @IsString()
  @Matches(CATEGORY_PATTERN, { message: 'category must be 1 to 100 characters [A-Za-z0-9_.]' })
  category?: string;
}

export class EventMetadataDto {
  @ApiProperty() tenantId: string;
  @ApiPropertyOptional() correlationId?: string;
  @ApiPropertyOptional() causationId?: string;
  @ApiPropertyOptional() actor?: string;
}

export class RecordedEventDto {
  @ApiProperty({ format: 'uuid' }) eventId: string;
  @ApiProperty() streamId: string;
  @ApiProperty({ description: '0-based, gapless per stream' }) version: number;
  @ApiProperty({ description: 'increases across the store; not contiguous' }) globalPosition: number;
  @ApiProperty() type: string;
  @ApiProperty() schemaVersion: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) data: unknown;
  @ApiProperty({ type: EventMetadataDto, description: 'tenantId, correlationId, causationId, actor and any caller-given keys' })
  metadata: EventMetadataDto;
  @ApiProperty({ type: String, format: 'date-time' }) recordedAt: Date;
}

export class StreamEventsDto {
  @ApiProperty() streamId: string;
  @ApiProperty({ description: "version of the stream's last event" }) version: number;
  @ApiProperty({ type: [RecordedEventDto] }) events: RecordedEventDto[];
}

export class StreamStateDto {
  @ApiProperty() streamId: string;
  @ApiProperty({ description: 'version of the last event folded into the state' }) version: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: "the aggregate's (or saga's) state" }) state: unknown;
}

export class GlobalLogPageDto {
  @ApiProperty({ type: [RecordedEventDto] }) events: RecordedEventDto[];
  @ApiProperty({ description: 'pass as `after` for the next page (equals `after` when nothing new is readable yet)' })
  lastPosition: number;
}
