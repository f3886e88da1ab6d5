import { Inject, Query } from '@nestjs/common';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { ListRoute } from '../http/list-route.decorator';
import { ReadModelController } from './read-models.docs';
import { ListServicesQueryDto, ServicePageDto } from './read-models.dto';
import { listServices } from './read-models.queries';

@ReadModelController('v1/services')
export class ServicesController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @ListRoute('List services', ServicePageDto, 'The service registry of the tenant (admin: every tenant), by name, optionally by capability or status; keyset-paged.')
  listServices(@Query() q: ListServicesQueryDto, @TenantScope() tenantId?: string): Promise<ServicePageDto> {
    return listServices(this.pool, { ...q, tenantId });
  }
}
