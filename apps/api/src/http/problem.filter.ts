import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { Response } from 'express';
import { isAgentWorkError } from '@app/agents';
import { isDatabaseUnavailable } from '@app/database';
import { isEventStoreError } from '@app/event-store';
import { IdempotencyConflictError, SagaError, SagaInputError } from '@app/sagas';
import { Problem, problem, ProblemException } from './problem';

// Business codes and the status they answer with (one table, one place). SagaInputError (400) and
// IdempotencyConflictError (409) carry extra fields and are mapped by class below, never by code.
const CODE_STATUS: Record<string, number> = {
  WRONG_EXPECTED_VERSION: 409,
  DUPLICATE_EVENT_ID: 409,
  INVALID_APPEND: 400,
  SAGA_NOT_FOUND: 404,
  SAGA_NOT_RUNNING: 422,
  SAGA_NOT_STUCK: 422,
  SAGA_NOT_SUSPENDED: 422,
  SAGA_TERMINAL: 422,
  STEP_NOT_STUCK: 422,
  UNKNOWN_STEP: 422,
  INVALID_COMMAND: 400,
  INVALID_PLAN: 400,
  TENANT_EXISTS: 409,
  TENANT_NOT_FOUND: 404,
  WORKFLOW_VERSION_EXISTS: 409,
  INVALID_WORKFLOW_DEFINITION: 400,
  // The agent work protocol (AgentWorkError); clients branch on the `code` of the body.
  NOT_FOUND: 404,
  LOCK_LOST: 409,
  TASK_CANCELLED: 409,
  AGENT_DECOMMISSIONING: 409,
  INSTANCE_OFFLINE: 409,
  AGENT_NOT_ACTIVE: 422,
};

const PROBLEM_FIELDS = new Set(['type', 'title', 'status', 'detail', 'errors', 'code']);

/** Maps every error to application/problem+json with the status API.md assigns to it. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const body = this.toProblem(exception);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(body.status).type('application/problem+json').send(JSON.stringify(body));
  }

  toProblem(exception: unknown): Problem {
    if (exception instanceof ProblemException) return exception.problem;
    if (exception instanceof SagaInputError) return problem(400, 'invalid saga input', { errors: exception.problems });
    if (exception instanceof IdempotencyConflictError) return problem(409, exception.message, { sagaId: exception.sagaId });
    if (isEventStoreError(exception)) {
      const status = CODE_STATUS[exception.code] ?? 400;
      return problem(status, exception.message, { code: exception.code, ...exception.details });
    }
    if (isAgentWorkError(exception)) {
      // Details add to the body; they never replace a problem field.
      const details = Object.fromEntries(Object.entries(exception.details).filter(([k]) => !PROBLEM_FIELDS.has(k)));
      return problem(CODE_STATUS[exception.code] ?? 422, exception.message, { ...details, code: exception.code });
    }
    if (exception instanceof SagaError) return problem(CODE_STATUS[exception.code] ?? 422, exception.message, { code: exception.code });
    if (exception instanceof HttpException) return this.fromHttpException(exception);
    const e = exception as { name?: string; code?: string; status?: number; type?: string; message?: string };
    // body-parser errors
    if (e?.type === 'entity.too.large') return problem(413, 'request body is larger than 1 MiB');
    if (e?.type === 'entity.parse.failed') return problem(400, 'request body is not valid JSON');
    if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return problem(415, e.message ?? 'unsupported encoding');
    // Other body-parser / http-errors refusals (a Content-Encoding that does not decode, an aborted
    // upload): the client's fault, with the status they carry.
    const expose = (exception as { expose?: unknown })?.expose === true;
    if (expose && typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return problem(e.status, e.message || 'bad request');
    if (e?.name === 'DomainError' && e.code) return problem(CODE_STATUS[e.code] ?? 422, e.message ?? e.code, { code: e.code });
    if (isDatabaseUnavailable(exception)) return problem(503, 'the database is unreachable; try again shortly');
    if (e?.code === '22P02' || e?.code === '22003' || e?.code === '22001' || e?.code === '54000') {
      return problem(400, `invalid value: ${e.message}`);
    }
    // 22021 (text) / 22P05 (jsonb): a string with a NUL character (\u0000), which PostgreSQL cannot store.
    if (e?.code === '22021' || e?.code === '22P05') return problem(400, 'invalid value: strings must not contain the NUL character (\\u0000)');
    // A bug, not an input problem: logged with its stack so that it gets fixed.
    this.logger.error(exception instanceof Error ? exception.stack ?? exception.message : String(exception));
    return problem(500, 'internal error');
  }

  private fromHttpException(ex: HttpException): Problem {
    const status = ex.getStatus();
    const response = ex.getResponse() as string | { message?: unknown; errors?: Problem['errors'] };
    if (typeof response === 'string') return problem(status, response);
    if (response.errors) return problem(status, String(response.message ?? 'validation failed'), { errors: response.errors });
    const message = Array.isArray(response.message) ? response.message.join('; ') : String(response.message ?? ex.message);
    return problem(status, message);
  }
}
