import { randomUUID } from 'crypto';
import { applyDecorators, Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { SagaExecutor } from '@app/sagas';
import { MinRole, Principal } from '../auth/auth.types';
import { actorOf, Caller, TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { ApiProblems } from '../http/problem.docs';
import { CancelSagaDto, CompensateSagaDto, ResumeSagaDto, RetryCompensationDto, SendSignalDto, SIGNAL_NAME, SignalAcceptedDto, SkipCompensationDto } from './saga-operations.dto';
import { badRequest } from '../http/problem';
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

  @OperatorAction(
    'cancel',
    'Cancel a saga',
    'the saga stops: its running steps are interrupted (FAILED, CANCELLED) and what it completed is compensated',
    'the saga is not SCHEDULED, RUNNING or SUSPENDED',
  )
  cancelSaga(@UuidParam('sagaId') sagaId: string, @Body() body: CancelSagaDto, @TenantScope() scope: string | undefined, @Caller() caller: Principal): Promise<SagaViewDto> {
    return this.operate(sagaId, scope, (tenantId) => this.executor.cancel(sagaId, tenantId, actorOf(caller), body.reason));
  }

  @OperatorAction(
    'resume',
    'Resume a suspended saga',
    'the failed step runs again with fresh attempts (with `config`, the task runs with that config)',
    'the saga is not SUSPENDED',
  )
  @ApiProblems([400, 'invalid body, or `config` for a saga that is not a task-workflow'])
  resumeSaga(@UuidParam('sagaId') sagaId: string, @Body() body: ResumeSagaDto, @TenantScope() scope: string | undefined, @Caller() caller: Principal): Promise<SagaViewDto> {
    return this.operate(sagaId, scope, (tenantId) => this.executor.resume(sagaId, tenantId, actorOf(caller), body.reason, body.config));
  }

  @OperatorAction('compensate', 'Compensate a suspended saga', 'the completed steps are compensated in reverse order', 'the saga is not SUSPENDED')
  compensateSaga(@UuidParam('sagaId') sagaId: string, @Body() body: CompensateSagaDto, @TenantScope() scope: string | undefined, @Caller() caller: Principal): Promise<SagaViewDto> {
    return this.operate(sagaId, scope, (tenantId) => this.executor.compensate(sagaId, tenantId, actorOf(caller), body.reason));
  }

  /** Runs an operator command on a saga the caller may see (404 otherwise); answers with the saga after it. */
  private async operate(sagaId: string, scope: string | undefined, command: (tenantId: string) => Promise<unknown>): Promise<SagaViewDto> {
    const { state } = await this.sagas.load(sagaId, scope);
    await command(state.tenantId);
    return this.sagas.view(sagaId, scope);
  }
}

/** Signals for a saga's `wait` tasks (client). */
@ApiTags('sagas')
@ApiBearerAuth()
@ApiProblems(403)
@MinRole('client')
@Controller('v1')
export class SagaSignalsController {
  constructor(
    private readonly executor: SagaExecutor,
    private readonly sagas: SagasService,
  ) {}

  @Post('sagas/:sagaId/signals/:name')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a signal to a saga',
    description:
      "Delivered to the saga's `wait` task for this signal name (`config: { signal, timeoutMs? }`), whose output becomes `payload`. A signal that arrives before the wait starts is kept for it; the same `signalId` twice is one delivery.",
  })
  @ApiParam({ name: 'name', description: 'the signal name', schema: { type: 'string', pattern: SIGNAL_NAME.source } })
  @ApiAcceptedResponse({ type: SignalAcceptedDto, description: 'the signal is recorded on the saga' })
  @ApiProblems([400, 'invalid signal name or body'], [404, "unknown saga, or another tenant's"], [422, 'the saga has finished'])
  async sendSagaSignal(
    @UuidParam('sagaId') sagaId: string,
    @Param('name') name: string,
    @Body() body: SendSignalDto,
    @TenantScope() scope: string | undefined,
    @Caller() caller: Principal,
  ): Promise<SignalAcceptedDto> {
    if (!SIGNAL_NAME.test(name)) throw badRequest(`signal name must match ${SIGNAL_NAME.source}`, [{ field: 'name', message: `must match ${SIGNAL_NAME.source}` }]);
    const { state } = await this.sagas.load(sagaId, scope);
    const signalId = body.signalId ?? randomUUID();
    const seenBefore = (state.signals ?? []).some((s) => s.signalId === signalId);
    await this.executor.signal(sagaId, state.tenantId, actorOf(caller), { name, signalId, ...(body.payload !== undefined ? { payload: body.payload } : {}) });
    return { sagaId, name, signalId, accepted: !seenBefore };
  }
}
