import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { WORKFLOW_DEFINITION_NAME_PATTERN } from '@app/domain';
import { SAGA_TYPES, SagaStatus, SagaType } from '@app/sagas';
import { PageQueryDto } from '../http/page-query.dto';
import { StreamReadQueryDto } from '../streams/streams.dto';
import { COMPENSATION_STATUSES, CompensationStatus, SAGA_STATUSES } from './saga-views.dto';

/** Page size of the saga lists when the query has no `limit`. */
const SAGA_PAGE = 50;

export class ListSagasQueryDto extends PageQueryDto(SAGA_PAGE) {
  @ApiPropertyOptional({ enum: SAGA_TYPES })
  @IsOptional()
  @IsIn(SAGA_TYPES)
  type?: SagaType;

  @ApiPropertyOptional({ enum: SAGA_STATUSES })
  @IsOptional()
  @IsIn(SAGA_STATUSES)
  status?: SagaStatus;

  @ApiPropertyOptional({ pattern: WORKFLOW_DEFINITION_NAME_PATTERN.source, description: 'task workflows started from this stored workflow definition (any version)' })
  @IsOptional()
  @IsString()
  @Matches(WORKFLOW_DEFINITION_NAME_PATTERN, { message: `definition must match ${WORKFLOW_DEFINITION_NAME_PATTERN.source}` })
  definition?: string;
}

export class ListCompensationsQueryDto extends PageQueryDto(SAGA_PAGE) {
  @ApiPropertyOptional({ enum: COMPENSATION_STATUSES })
  @IsOptional()
  @IsIn(COMPENSATION_STATUSES)
  status?: CompensationStatus;
}

/** A saga's own stream is read like any stream, a whole saga (up to 1000 events) by default. */
export class SagaEventsQueryDto extends StreamReadQueryDto(1000) {}
