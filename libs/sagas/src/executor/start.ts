import { randomUUID } from 'crypto';
import { context, trace } from '@opentelemetry/api';
import { EventMetadata } from '@app/event-store';
import { ValidationProblem } from '../core/dag';
import { decide } from '../core/saga.decider';
import { initialSagaState } from '../core/saga.state';
import { OnFailure, SagaType } from '../core/saga.types';
import { Committed, ExecutorContext, Loaded, Transition } from './executor.types';
import { claimIdempotencyKey } from './postgres/saga-idempotency';
import { contentHash } from './stable-json';
import { inSpan, traceparentOf } from './tracing';

export interface StartSagaRequest {
  tenantId: string;
  sagaType: SagaType;
  input: unknown;
  idempotencyKey?: string;
  metadata?: Partial<EventMetadata>;
  /** `suspend`: a step's final failure waits for an operator instead of compensating. */
  onFailure?: OnFailure;
  /** Run from then on (SCHEDULED until); at most a year ahead. */
  startAt?: Date | string;
  /** The stored workflow definition the input was resolved from. */
  definition?: { name: string; version: number };
}

/** How far ahead a start may be scheduled. */
export const MAX_START_DELAY_MS = 366 * 24 * 3600_000;

export interface StartSagaResult {
  sagaId: string;
  status: string;
  /** False when an earlier start with the same idempotency key is returned. */
  created: boolean;
}

/** The input of a start request is invalid: a 400 with these problems. */
export class SagaInputError extends Error {
  readonly code = 'INVALID_SAGA_INPUT';
  constructor(readonly problems: ValidationProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'SagaInputError';
  }
}

/** The idempotency key was used before with another body: a 409. */
export class IdempotencyConflictError extends Error {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(readonly sagaId: string) {
    super('this Idempotency-Key was already used with a different request body');
    this.name = 'IdempotencyConflictError';
  }
}

/** The start's idempotency key is taken (rolls the start back; see SagaStarter.start). */
class KeyAlreadyUsed extends Error {
  constructor(
    readonly sagaId: string,
    readonly requestHash: string,
  ) {
    super('idempotency key already used');
  }
}

/** Starts sagas: validation, plan, the StartSaga decision and its commit, idempotent with a key. */
export class SagaStarter {
  constructor(
    private readonly ctx: ExecutorContext,
    private readonly commit: (t: Transition) => Promise<Committed>,
    private readonly load: (sagaId: string) => Promise<Loaded | undefined>,
    /** Wakes workers here and elsewhere: a saga waits. */
    private readonly newWork: () => void,
  ) {}

  /**
   * Starts a saga (idempotent with a key: same key + same body → same saga; other body → 409), in
   * a `saga.start` span (child of the request's, if any) whose trace the saga's steps join.
   */
  start(req: StartSagaRequest): Promise<StartSagaResult> {
    const attributes = () => ({ 'saga.type': req.sagaType, 'saga.tenant_id': req.tenantId });
    return inSpan('saga.start', context.active(), attributes, async (span) => {
      const result = await this.startSaga(req, traceparentOf(trace.setSpan(context.active(), span)));
      if (span.isRecording()) span.setAttributes({ 'saga.id': result.sagaId, 'saga.created': result.created });
      return result;
    });
  }

  private async startSaga(req: StartSagaRequest, traceparent: string | undefined): Promise<StartSagaResult> {
    const definition = this.ctx.definition(req.sagaType);
    const problems = [...definition.validate(req.input as never), ...startOptionProblems(req)];
    if (problems.length) throw new SagaInputError(problems);
    const plan = definition.plan(req.input as never);
    const sagaId = randomUUID();
    const startAt = req.startAt === undefined ? undefined : new Date(req.startAt).toISOString();
    const onFailure = req.onFailure === 'suspend' ? ('suspend' as const) : undefined;
    // The same key with another start time or failure mode is another request.
    const requestHash = contentHash({ type: req.sagaType, input: req.input, ...(startAt ? { startAt } : {}), ...(onFailure ? { onFailure } : {}) });
    const command = {
      type: 'StartSaga' as const,
      data: {
        sagaId,
        tenantId: req.tenantId,
        sagaType: req.sagaType,
        input: req.input,
        plan,
        idempotencyKey: req.idempotencyKey,
        correlationId: req.metadata?.correlationId,
        ...(onFailure ? { onFailure } : {}),
        ...(startAt ? { startAt } : {}),
        ...(req.definition ? { definition: req.definition } : {}),
        at: new Date(),
      },
    };
    const transition: Transition = {
      sagaId,
      tenantId: req.tenantId,
      loaded: { state: initialSagaState(), version: -1 },
      events: decide(command, initialSagaState()),
      // The saga's trace: its steps, on any worker, are children of this start.
      metadata: traceparent ? { ...req.metadata, traceparent } : req.metadata,
      start: true,
    };
    const key = req.idempotencyKey;
    if (key !== undefined) {
      // The key is claimed in the start's transaction (a keyed start commits on its own).
      transition.record = async (tx) => {
        const existing = await claimIdempotencyKey(tx, req.tenantId, key, sagaId, requestHash);
        if (existing) throw new KeyAlreadyUsed(existing.sagaId, existing.requestHash);
      };
    }
    let result: Committed;
    try {
      result = await this.commit(transition);
    } catch (err) {
      if (!(err instanceof KeyAlreadyUsed)) throw err;
      if (err.requestHash !== requestHash) throw new IdempotencyConflictError(err.sagaId);
      const loaded = await this.load(err.sagaId);
      return { sagaId: err.sagaId, status: loaded?.state.status ?? 'RUNNING', created: false };
    }
    this.newWork();
    return { sagaId, status: result.state.status, created: true };
  }
}

function startOptionProblems(req: StartSagaRequest): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (req.onFailure !== undefined && req.onFailure !== 'compensate' && req.onFailure !== 'suspend') {
    problems.push({ field: 'onFailure', message: 'must be compensate or suspend' });
  }
  if (req.startAt !== undefined) {
    const ms = new Date(req.startAt).getTime();
    if (Number.isNaN(ms)) problems.push({ field: 'startAt', message: 'must be an ISO-8601 time' });
    else if (ms > Date.now() + MAX_START_DELAY_MS) problems.push({ field: 'startAt', message: 'must be at most one year ahead' });
  }
  return problems;
}
