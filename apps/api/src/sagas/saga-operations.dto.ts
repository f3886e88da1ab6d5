import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
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
