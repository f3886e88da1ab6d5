import { randomUUID } from 'crypto';
import { EventMetadata } from '@app/event-store';
import { ValidationProblem } from '../core/dag';
import { decide } from '../core/saga.decider';
import { initialSagaState } from '../core/saga.state';
import { SagaType } from '../core/saga.types';
import { Committed, ExecutorContext, Loaded, Transition } from './executor.types';
import { claimIdempotencyKey } from './postgres/saga-idempotency';
import { contentHash } from './stable-json';

export interface StartSagaRequest {
  tenantId: string;
  sagaType: SagaType;
  input: unknown;
  idempotencyKey?: string;
  metadata?: Partial<EventMetadata>;
}

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

  /** Starts a saga (idempotent with a key: same key + same body → same saga; other body → 409). */
  async start(req: StartSagaRequest): Promise<StartSagaResult> {
    const definition = this.ctx.definition(req.sagaType);
    const problems = definition.validate(req.input as never);
    if (problems.length) throw new SagaInputError(problems);
    const plan = definition.plan(req.input as never);
    const sagaId = randomUUID();
    const requestHash = contentHash({ type: req.sagaType, input: req.input });
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
        at: new Date(),
      },
    };
    const transition: Transition = {
      sagaId,
      tenantId: req.tenantId,
      loaded: { state: initialSagaState(), version: -1 },
      events: decide(command, initialSagaState()),
      metadata: req.metadata,
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
