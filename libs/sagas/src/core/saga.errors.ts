export type SagaErrorCode =
  | 'SAGA_EXISTS'
  | 'SAGA_NOT_FOUND'
  | 'SAGA_NOT_RUNNING'
  | 'SAGA_NOT_STUCK'
  | 'SAGA_NOT_SUSPENDED'
  | 'SAGA_TERMINAL'
  | 'STEP_NOT_STUCK'
  | 'UNKNOWN_STEP'
  | 'STEP_NOT_STARTABLE'
  | 'STEP_NOT_COMPENSABLE'
  | 'COMPENSATION_NOT_FINISHED'
  | 'INVALID_PLAN'
  | 'INVALID_COMMAND'
  | 'TEMPLATE_PATH_NOT_FOUND';

/** A refused saga command or an unresolvable template, told apart by `code`. */
export class SagaError extends Error {
  constructor(
    readonly code: SagaErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'SagaError';
  }
}

export function isSagaError(err: unknown, code?: SagaErrorCode): err is SagaError {
  return err instanceof SagaError && (code === undefined || err.code === code);
}
