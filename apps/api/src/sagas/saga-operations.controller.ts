import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { SagaExecutor } from '@app/sagas';
import { MinRole, Principal } from '../auth/auth.types';
import { actorOf, Caller, TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { CancelSagaDto, RetryCompensationDto, SkipCompensationDto } from './saga-operations.dto';
import { DEFAULT_PAGE, ListCompensationsQueryDto } from './saga-queries.dto';
import { SagaReadModel } from './saga-read-model';
import { CompensationLogPageDto, SagaViewDto } from './saga-views.dto';
import { SagasService } from './sagas.service';

/**
 * Operators act on sagas: retry or skip a stuck compensation, cancel a running saga. Each command
 * is a saga event with the calling key as actor; the worker carries on from it.
 */
@ApiTags('sagas')
@ApiBearerAuth()
@MinRole('operator')
@Controller('v1')
export class SagaOperationsController {
  constructor(
    private readonly executor: SagaExecutor,
    private readonly sagas: SagasService,
    private readonly readModel: SagaReadModel,
  ) {}

  @Get('compensations')
  @ApiOkResponse({ type: CompensationLogPageDto, description: "compensation log entries across the tenant's sagas, newest first" })
  @ApiBadRequestResponse({ description: 'invalid query or cursor' })
  compensations(@Query() query: ListCompensationsQueryDto, @TenantScope() scope: string | undefined): Promise<CompensationLogPageDto> {
    return this.readModel.listCompensations({ tenantId: scope, status: query.status, limit: query.limit ?? DEFAULT_PAGE, cursor: query.cursor });
  }

  @Post('sagas/:sagaId/retry')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: SagaViewDto, description: 'the stuck compensation is attempted again' })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  @ApiUnprocessableEntityResponse({ description: 'the saga is not COMPENSATION_FAILED' })
  async retry(
    @UuidParam('sagaId') sagaId: string,
    @Body() body: RetryCompensationDto,
    @TenantScope() scope: string | undefined,
    @Caller() caller: Principal,
  ): Promise<SagaViewDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    await this.executor.retryCompensation(sagaId, state.tenantId, actorOf(caller), body.reason);
    return this.sagas.view(sagaId, scope);
  }

  @Post('sagas/:sagaId/skip')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: SagaViewDto, description: 'the stuck compensation is marked SKIPPED and compensation goes on' })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  @ApiUnprocessableEntityResponse({ description: 'the saga is not COMPENSATION_FAILED, or the step is not the stuck one' })
  async skip(
    @UuidParam('sagaId') sagaId: string,
    @Body() body: SkipCompensationDto,
    @TenantScope() scope: string | undefined,
    @Caller() caller: Principal,
  ): Promise<SagaViewDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    await this.executor.skipCompensation(sagaId, state.tenantId, body.step, actorOf(caller), body.reason);
    return this.sagas.view(sagaId, scope);
  }

  @Post('sagas/:sagaId/cancel')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: SagaViewDto, description: 'the saga stops starting steps and compensates what it completed' })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  @ApiUnprocessableEntityResponse({ description: 'the saga is not RUNNING' })
  async cancel(
    @UuidParam('sagaId') sagaId: string,
    @Body() body: CancelSagaDto,
    @TenantScope() scope: string | undefined,
    @Caller() caller: Principal,
  ): Promise<SagaViewDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    await this.executor.cancel(sagaId, state.tenantId, actorOf(caller), body.reason);
    return this.sagas.view(sagaId, scope);
  }
}
