import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { toCompensationsView } from '@app/sagas';
import { TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
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
  @ApiOkResponse({ type: SagaPageDto, description: "the tenant's sagas, newest first (the admin key: every tenant's)" })
  @ApiBadRequestResponse({ description: 'invalid query or cursor' })
  list(@Query() query: ListSagasQueryDto, @TenantScope() scope: string | undefined): Promise<SagaPageDto> {
    return this.readModel.listSagas({ ...query, tenantId: scope });
  }

  @Get(':sagaId')
  @ApiOkResponse({ type: SagaViewDto, description: "the saga folded from its own stream" })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  get(@UuidParam('sagaId') sagaId: string, @TenantScope() scope: string | undefined): Promise<SagaViewDto> {
    return this.sagas.view(sagaId, scope);
  }

  @Get(':sagaId/events')
  @ApiOkResponse({ type: SagaEventsDto, description: "the saga's own stream" })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  events(@UuidParam('sagaId') sagaId: string, @Query() query: SagaEventsQueryDto, @TenantScope() scope: string | undefined): Promise<SagaEventsDto> {
    return this.sagas.events(sagaId, scope, { fromVersion: query.fromVersion, limit: query.limit, direction: query.direction });
  }

  @Get(':sagaId/compensations')
  @ApiOkResponse({ type: SagaCompensationsDto, description: 'the compensation log of the saga, in the order it happened' })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  async compensations(@UuidParam('sagaId') sagaId: string, @TenantScope() scope: string | undefined): Promise<SagaCompensationsDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    return toCompensationsView(state);
  }
}
