import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { querySagaStats } from '@app/projections';
import { TenantScope } from '../auth/principal.decorator';
import { READ_MODEL_ERRORS } from './read-models.docs';
import { SagaStatsDto } from './read-models.dto';

@ApiTags('read models')
@ApiBearerAuth()
@READ_MODEL_ERRORS()
@Controller('v1/stats')
export class SagaStatsController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get('sagas')
  @ApiOperation({ summary: 'Saga counts by type and status, p50 / p95 durations of finished sagas by type' })
  @ApiOkResponse({ type: SagaStatsDto })
  stats(@TenantScope() tenantId?: string): Promise<SagaStatsDto> {
    return querySagaStats(this.pool, tenantId);
  }
}
