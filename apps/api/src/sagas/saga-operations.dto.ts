import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { AnyJsonProperty } from '../http/any-json.docs';
import { IsStorableJson } from '../streams/streams.validators';
import { BoundedString } from '../http/fields';

const MAX_REASON = 1000;

export class RetryCompensationDto {
  @ApiPropertyOptional({ maxLength: MAX_REASON, example: 'downstream service is back' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_REASON)
  reason?: string;
}

export class SkipCompensationDto {
  @ApiProperty({ minLength: 1, maxLength: 200, description: 'the step whose compensation is stuck', example: 'reserve-resources' })
  @BoundedString(200)
  step: string;

  @ApiProperty({ minLength: 1, maxLength: MAX_REASON, example: 'released by hand' })
  @BoundedString(MAX_REASON)
  reason: string;
}

export class CancelSagaDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_REASON, example: 'customer withdrew the order' })
  @BoundedString(MAX_REASON)
  reason: string;
}

export class ResumeSagaDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_REASON, example: 'fixed the vendor endpoint' })
  @BoundedString(MAX_REASON)
  reason: string;

  @AnyJsonProperty("replaces the suspended task's config (task-workflow only; 400 for other sagas)", { required: false })
  @IsOptional()
  @IsObject()
  @IsStorableJson()
  config?: Record<string, unknown>;
}

export class CompensateSagaDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_REASON, example: 'the order was withdrawn' })
  @BoundedString(MAX_REASON)
  reason: string;
}

/** A signal name: what a `wait` task's `config.signal` names. */
export const SIGNAL_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

export class SendSignalDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'de-duplicates: the same signalId twice is one delivery (default: a new id)', example: 'approval-4711' })
  @IsOptional()
  @BoundedString(200)
  signalId?: string;

  @AnyJsonProperty("the wait task's output", { required: false })
  @IsOptional()
  @IsStorableJson()
  payload?: unknown;
}

export class SignalAcceptedDto {
  @ApiProperty({ format: 'uuid' }) sagaId: string;
  @ApiProperty() name: string;
  @ApiProperty() signalId: string;
  @ApiProperty({ description: 'false when this signalId was delivered before (nothing new happened)' }) accepted: boolean;
}
