import { Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { querySagaStats } from '@app/projections';
import { TenantScope } from '../auth/principal.decorator';
import { ReadModelController } from './read-models.docs';
import { SagaStatsDto } from './read-models.dto';

@ReadModelController('v1/stats')
export class SagaStatsController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get('sagas')
  @ApiOperation({ summary: 'Get saga statistics', description: 'Saga counts by type and status, and p50 / p95 durations of finished sagas by type, from the read model.' })
  @ApiOkResponse({ type: SagaStatsDto })
  getSagaStats(@TenantScope() tenantId?: string): Promise<SagaStatsDto> {
    return querySagaStats(this.pool, tenantId);
  }
}
