import { applyDecorators, Body, Controller, createParamDecorator, ExecutionContext, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { DOMAIN_COMMANDS } from '@app/platform';
import { DefinitionTaskWorkflowInput, DomainCommandDispatcher, resolveTaskWorkflowStart, SagaExecutor, SagaType, StartSagaRequest, TaskWorkflowInput } from '@app/sagas';
import { AuthedRequest } from '../auth/api-key.guard';
import { actingTenantOf, actorOf, correlationIdOf } from '../auth/principal.decorator';
import { badRequest } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';
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

/** What a start takes from the request besides its body. */
interface StartRequest {
  idempotencyKey: string | undefined;
  tenantId: string;
  metadata: { correlationId: string; actor: string };
}

/** The Idempotency-Key header, the acting tenant and the caller's metadata of a start. */
const StartRequest = createParamDecorator((_: unknown, ctx: ExecutionContext): StartRequest => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
  return { idempotencyKey, tenantId: actingTenantOf(req), metadata: { correlationId: correlationIdOf(req), actor: actorOf(req.principal) } };
});

/** A start route: 202 with the saga's location; `badRequest` says what that route refuses with 400. */
const StartRoute = (path: SagaType, summary: string, description: string, badRequest: string) =>
  applyDecorators(
    Post(path),
    HttpCode(202),
    ApiOperation({ summary, description }),
    ApiHeader(IDEMPOTENCY_HEADER),
    ApiAcceptedResponse(ACCEPTED),
    ApiProblems([400, badRequest], [409, 'Idempotency-Key reused with a different body']),
  );

const isDefinitionInput = (input: TaskWorkflowInput | DefinitionTaskWorkflowInput): input is DefinitionTaskWorkflowInput => 'definition' in input;

/** Starting sagas: validate, hand to the executor (which records SagaStarted), answer 202. */
@ApiTags('sagas')
@ApiBearerAuth()
@Controller('v1/sagas')
export class StartSagaController {
  constructor(
    private readonly executor: SagaExecutor,
    @Inject(DOMAIN_COMMANDS) private readonly commands: DomainCommandDispatcher,
  ) {}

  @StartRoute(
    'agent-provisioning',
    'Start agent provisioning',
    'Starts an agent-provisioning saga: quota reserved, agent registered, initial tasks run, agent activated; compensated in reverse on failure.',
    'invalid body, unknown initial task handler or bad Idempotency-Key',
  )
  startAgentProvisioning(@Body() body: StartAgentProvisioningDto, @StartRequest() req: StartRequest, @Res({ passthrough: true }) res: Response): Promise<SagaAcceptedDto> {
    return this.start('agent-provisioning', body, req, res);
  }

  @StartRoute(
    'task-workflow',
    'Start a task workflow',
    'Starts a task-workflow saga: a DAG of tasks run as their dependencies complete, compensated in reverse on failure. The tasks are listed in the body, or come from a stored workflow definition (`definition`, the latest version unless one is named) with `{{ input.path }}` read from `input`.',
    'invalid body, cycle, unknown dependency or handler, bad template reference, duplicate ids, unknown workflow definition or version, an input that lacks what the definition reads',
  )
  async startTaskWorkflow(@Body() body: StartTaskWorkflowDto, @StartRequest() req: StartRequest, @Res({ passthrough: true }) res: Response): Promise<SagaAcceptedDto> {
    // A start from a stored definition runs that version's tasks: they are copied into the saga.
    const input = await resolveTaskWorkflowStart(this.commands, req.tenantId, JSON.parse(JSON.stringify(body)));
    if (!isDefinitionInput(input)) return this.start('task-workflow', input, req, res);
    // Recorded on SagaStarted; the definition's onFailure applies unless the start gave its own.
    const onFailure = input.onFailure === 'suspend' || input.onFailure === 'compensate' ? input.onFailure : undefined;
    return this.start('task-workflow', input, req, res, { definition: input.definition, ...(onFailure ? { onFailure } : {}) });
  }

  private async start(
    sagaType: SagaType,
    body: object,
    { idempotencyKey, tenantId, metadata }: StartRequest,
    res: Response,
    options: Pick<StartSagaRequest, 'definition' | 'onFailure'> = {},
  ): Promise<SagaAcceptedDto> {
    if (idempotencyKey !== undefined && (idempotencyKey.length < 1 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY)) {
      throw badRequest(`Idempotency-Key must have 1 to ${MAX_IDEMPOTENCY_KEY} characters`, [
        { field: 'Idempotency-Key', message: `must have 1 to ${MAX_IDEMPOTENCY_KEY} characters` },
      ]);
    }
    // The stored input is plain JSON (no DTO class instances), so a replay hashes the same.
    const input = JSON.parse(JSON.stringify(body)) as { onFailure?: string; startAt?: string };
    const onFailure = options.onFailure ?? (input.onFailure === 'suspend' ? 'suspend' : undefined);
    const started = await this.executor.start({
      tenantId,
      sagaType,
      input,
      idempotencyKey,
      metadata,
      ...options,
      ...(onFailure ? { onFailure } : {}),
      ...(input.startAt !== undefined ? { startAt: input.startAt } : {}),
    });
    const location = `/v1/sagas/${started.sagaId}`;
    res.setHeader('Location', location);
    return { sagaId: started.sagaId, type: sagaType, status: started.status, location };
  }
}
