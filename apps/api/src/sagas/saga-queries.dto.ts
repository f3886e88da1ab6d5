import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { SAGA_TYPES, SagaStatus, SagaType } from '@app/sagas';
import { COMPENSATION_STATUSES, CompensationStatus, SAGA_STATUSES } from './saga-views.dto';

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;
export const MAX_EVENTS_PAGE = 1000;

export class ListSagasQueryDto {
  @ApiPropertyOptional({ enum: SAGA_TYPES })
  @IsOptional()
  @IsIn(SAGA_TYPES)
  type?: SagaType;

  @ApiPropertyOptional({ enum: SAGA_STATUSES })
  @IsOptional()
  @IsIn(SAGA_STATUSES)
  status?: SagaStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: 'the `nextCursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  cursor?: string;
}

export class ListCompensationsQueryDto {
  @ApiPropertyOptional({ enum: COMPENSATION_STATUSES })
  @IsOptional()
  @IsIn(COMPENSATION_STATUSES)
  status?: CompensationStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: 'the `nextCursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  cursor?: string;
}

export class SagaEventsQueryDto {
  @ApiPropertyOptional({ minimum: 0, description: 'inclusive; forward defaults to 0, backward to the last event' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  fromVersion?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_EVENTS_PAGE, default: MAX_EVENTS_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_EVENTS_PAGE)
  limit?: number;

  @ApiPropertyOptional({ enum: ['forward', 'backward'], default: 'forward' })
  @IsOptional()
  @IsIn(['forward', 'backward'])
  direction?: 'forward' | 'backward';
}
