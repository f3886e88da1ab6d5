import { applyDecorators, Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SagaExecutor } from '@app/sagas';
import { MinRole, Principal } from '../auth/auth.types';
import { actorOf, Caller, TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { ApiProblems } from '../http/problem.docs';
import { CancelSagaDto, RetryCompensationDto, SkipCompensationDto } from './saga-operations.dto';
import { ListCompensationsQueryDto } from './saga-queries.dto';
import { SagaReadModel } from './saga-read-model';
import { CompensationLogPageDto, SagaViewDto } from './saga-views.dto';
import { SagasService } from './sagas.service';

/** `POST /v1/sagas/{sagaId}/{action}`: 202 with the saga's view, 404 for a saga the caller may not see. */
const OperatorAction = (action: string, summary: string, accepted: string, refused: string) =>
  applyDecorators(
    Post(`sagas/:sagaId/${action}`),
    HttpCode(202),
    ApiOperation({ summary, description: `${accepted[0].toUpperCase()}${accepted.slice(1)}; recorded with the calling key as actor. Refused (422) when ${refused}.` }),
    ApiAcceptedResponse({ type: SagaViewDto, description: accepted }),
    ApiProblems([404, "unknown saga, or another tenant's"], [422, refused]),
  );

/**
 * Operators act on sagas: retry or skip a stuck compensation, cancel a running saga. Each command
 * is a saga event with the calling key as actor; the worker carries on from it.
 */
@ApiTags('sagas')
@ApiBearerAuth()
@ApiProblems(403)
@MinRole('operator')
@Controller('v1')
export class SagaOperationsController {
  constructor(
    private readonly executor: SagaExecutor,
    private readonly sagas: SagasService,
    private readonly readModel: SagaReadModel,
  ) {}

  @Get('compensations')
  @ApiOperation({ summary: 'List compensations', description: "Compensation log entries across the tenant's sagas, newest first, optionally by status; keyset-paged." })
  @ApiOkResponse({ type: CompensationLogPageDto, description: "compensation log entries across the tenant's sagas, newest first" })
  @ApiProblems([400, 'invalid query or cursor'])
  listCompensations(@Query() query: ListCompensationsQueryDto, @TenantScope() scope: string | undefined): Promise<CompensationLogPageDto> {
    return this.readModel.listCompensations({ ...query, tenantId: scope });
  }

  @OperatorAction('retry', 'Retry a stuck compensation', 'the stuck compensation is attempted again', 'the saga is not COMPENSATION_FAILED')
  retrySagaCompensation(@UuidParam('sagaId') sagaId: string, @Body() body: RetryCompensationDto, @TenantScope() scope: string | undefined, @Caller() caller: Principal): Promise<SagaViewDto> {
    return this.operate(sagaId, scope, (tenantId) => this.executor.retryCompensation(sagaId, tenantId, actorOf(caller), body.reason));
  }

  @OperatorAction(
    'skip',
    'Skip a stuck compensation',
    'the stuck compensation is marked SKIPPED and compensation goes on',
    'the saga is not COMPENSATION_FAILED, or the step is not the stuck one',
  )
  skipSagaCompensation(@UuidParam('sagaId') sagaId: string, @Body() body: SkipCompensationDto, @TenantScope() scope: string | undefined, @Caller() caller: Principal): Promise<SagaViewDto> {
    return this.operate(sagaId, scope, (tenantId) => this.executor.skipCompensation(sagaId, tenantId, body.step, actorOf(caller), body.reason));
  }

  @OperatorAction('cancel', 'Cancel a saga', 'the saga stops starting steps and compensates what it completed', 'the saga is not RUNNING')
  cancelSaga(@UuidParam('sagaId') sagaId: string, @Body() body: CancelSagaDto, @TenantScope() scope: string | undefined, @Caller() caller: Principal): Promise<SagaViewDto> {
    return this.operate(sagaId, scope, (tenantId) => this.executor.cancel(sagaId, tenantId, actorOf(caller), body.reason));
  }

  /** Runs an operator command on a saga the caller may see (404 otherwise); answers with the saga after it. */
  private async operate(sagaId: string, scope: string | undefined, command: (tenantId: string) => Promise<unknown>): Promise<SagaViewDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    await command(state.tenantId);
    return this.sagas.view(sagaId, scope);
  }
}
