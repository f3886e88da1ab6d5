import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

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
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  step: string;

  @ApiProperty({ minLength: 1, maxLength: MAX_REASON, example: 'released by hand' })
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_REASON)
  reason: string;
}

export class CancelSagaDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_REASON, example: 'customer withdrew the order' })
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_REASON)
  reason: string;
}
