import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { toCompensationsView } from '@app/sagas';
import { TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { ApiProblems } from '../http/problem.docs';
import { ListSagasQueryDto, SagaEventsQueryDto } from './saga-queries.dto';
import { SagaReadModel } from './saga-read-model';
import { SagaCompensationsDto, SagaPageDto, SagaViewDto, SagaEventsDto } from './saga-views.dto';
import { SagasService } from './sagas.service';

/** Reading sagas: one saga from its stream (strongly consistent), lists from the read model. */
@ApiTags('sagas')
@ApiBearerAuth()
@Controller('v1/sagas')
export class SagasController {
  constructor(
    private readonly sagas: SagasService,
    private readonly readModel: SagaReadModel,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List sagas', description: "The tenant's sagas from the read model, newest first (the admin key: every tenant's), optionally by type, status and the stored workflow definition it was started from; keyset-paged." })
  @ApiOkResponse({ type: SagaPageDto, description: "the tenant's sagas, newest first (the admin key: every tenant's)" })
  @ApiProblems([400, 'invalid query or cursor'])
  listSagas(@Query() query: ListSagasQueryDto, @TenantScope() scope: string | undefined): Promise<SagaPageDto> {
    return this.readModel.listSagas({ ...query, tenantId: scope });
  }

  @Get(':sagaId')
  @ApiOperation({ summary: 'Get a saga', description: 'One saga folded from its own stream (strongly consistent): status, steps, compensations.' })
  @ApiOkResponse({ type: SagaViewDto, description: "the saga folded from its own stream" })
  @ApiProblems([400, 'sagaId is not a UUID'], [404, "unknown saga, or another tenant's"])
  getSaga(@UuidParam('sagaId') sagaId: string, @TenantScope() scope: string | undefined): Promise<SagaViewDto> {
    return this.sagas.view(sagaId, scope);
  }

  @Get(':sagaId/events')
  @ApiOperation({ summary: 'List the events of a saga', description: "The saga's own stream, forward or backward from a version." })
  @ApiOkResponse({ type: SagaEventsDto, description: "the saga's own stream" })
  @ApiProblems([400, 'sagaId is not a UUID, or a query parameter fails validation'], [404, "unknown saga, or another tenant's"])
  listSagaEvents(@UuidParam('sagaId') sagaId: string, @Query() query: SagaEventsQueryDto, @TenantScope() scope: string | undefined): Promise<SagaEventsDto> {
    return this.sagas.events(sagaId, scope, { fromVersion: query.fromVersion, limit: query.limit, direction: query.direction });
  }

  @Get(':sagaId/compensations')
  @ApiOperation({ summary: 'Get the compensation log of a saga', description: 'Every compensation of the saga (succeeded, failed, skipped), in the order it happened.' })
  @ApiOkResponse({ type: SagaCompensationsDto, description: 'the compensation log of the saga, in the order it happened' })
  @ApiProblems([400, 'sagaId is not a UUID'], [404, "unknown saga, or another tenant's"])
  async getSagaCompensations(@UuidParam('sagaId') sagaId: string, @TenantScope() scope: string | undefined): Promise<SagaCompensationsDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    return toCompensationsView(state);
  }
}
