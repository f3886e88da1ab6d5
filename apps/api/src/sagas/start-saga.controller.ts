import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiHeader,
  ApiTags,
} from '@nestjs/swagger';
import { Response } from 'express';
import { SagaExecutor, SagaType } from '@app/sagas';
import { Principal } from '../auth/auth.types';
import { ActingTenant, actorOf, Caller, CorrelationId } from '../auth/principal.decorator';
import { badRequest } from '../http/problem';
import { SagaAcceptedDto } from './saga-views.dto';
import { StartAgentProvisioningDto } from './start-agent-provisioning.dto';
import { StartTaskWorkflowDto } from './start-task-workflow.dto';

const MAX_IDEMPOTENCY_KEY = 200;

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: `1 to ${MAX_IDEMPOTENCY_KEY} characters. The same key with the same body returns the first saga; with another body, 409.`,
};
const ACCEPTED = {
  type: SagaAcceptedDto,
  description: 'the saga is started (or, for a repeated Idempotency-Key, was started before)',
  headers: { Location: { description: '/v1/sagas/{sagaId}', schema: { type: 'string' } } },
};

/** Starting sagas: validate, hand to the executor (which records SagaStarted), answer 202. */
@ApiTags('sagas')
@ApiBearerAuth()
@Controller('v1/sagas')
export class StartSagaController {
  constructor(private readonly executor: SagaExecutor) {}

  @Post('agent-provisioning')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse(ACCEPTED)
  @ApiBadRequestResponse({ description: 'invalid body, unknown initial task handler or bad Idempotency-Key' })
  @ApiConflictResponse({ description: 'Idempotency-Key reused with a different body' })
  startAgentProvisioning(
    @Body() body: StartAgentProvisioningDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @ActingTenant() tenantId: string,
    @Caller() caller: Principal,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SagaAcceptedDto> {
    return this.start('agent-provisioning', body, idempotencyKey, tenantId, caller, correlationId, res);
  }

  @Post('task-workflow')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse(ACCEPTED)
  @ApiBadRequestResponse({ description: 'invalid body, cycle, unknown dependency or handler, bad template reference, duplicate ids' })
  @ApiConflictResponse({ description: 'Idempotency-Key reused with a different body' })
  startTaskWorkflow(
    @Body() body: StartTaskWorkflowDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @ActingTenant() tenantId: string,
    @Caller() caller: Principal,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SagaAcceptedDto> {
    return this.start('task-workflow', body, idempotencyKey, tenantId, caller, correlationId, res);
  }

  private async start(
    sagaType: SagaType,
    body: object,
    idempotencyKey: string | undefined,
    tenantId: string,
    caller: Principal,
    correlationId: string,
    res: Response,
  ): Promise<SagaAcceptedDto> {
    if (idempotencyKey !== undefined && (idempotencyKey.length < 1 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY)) {
      throw badRequest(`Idempotency-Key must have 1 to ${MAX_IDEMPOTENCY_KEY} characters`, [
        { field: 'Idempotency-Key', message: `must have 1 to ${MAX_IDEMPOTENCY_KEY} characters` },
      ]);
    }
    // The stored input is plain JSON (no DTO class instances), so a replay hashes the same.
    const input: unknown = JSON.parse(JSON.stringify(body));
    const started = await this.executor.start({
      tenantId,
      sagaType,
      input,
      idempotencyKey,
      metadata: { correlationId, actor: actorOf(caller) },
    });
    const location = `/v1/sagas/${started.sagaId}`;
    res.setHeader('Location', location);
    return { sagaId: started.sagaId, type: sagaType, status: started.status, location };
  }
}
