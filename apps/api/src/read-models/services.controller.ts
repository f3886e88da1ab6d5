import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { READ_MODEL_ERRORS } from './read-models.docs';
import { ListServicesQueryDto, ServicePageDto } from './read-models.dto';
import { listServices } from './read-models.queries';

@ApiTags('read models')
@ApiBearerAuth()
@READ_MODEL_ERRORS()
@Controller('v1/services')
export class ServicesController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get()
  @ApiOperation({ summary: 'The service registry of the tenant (admin: every tenant), by name' })
  @ApiOkResponse({ type: ServicePageDto })
  list(@Query() q: ListServicesQueryDto, @TenantScope() tenantId?: string): Promise<ServicePageDto> {
    return listServices(this.pool, { ...q, tenantId });
  }
}
