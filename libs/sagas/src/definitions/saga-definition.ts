import { PoolClient } from 'pg';
import { SagaPlan, SagaType } from '../core/saga.types';
import { SagaState } from '../core/saga.state';
import { ValidationProblem } from '../core/dag';
import type { DomainCommandDispatcher, DomainCommandEnvelope } from '../domain-commands/domain-commands';

/** What a step or compensation effect knows when it runs. */
export interface StepContext {
  sagaId: string;
  tenantId: string;
  step: string;
  attempt: number;
  phase: 'run' | 'compensate';
  /** Deterministic (saga id + step + phase): effects derive event ids and Idempotency-Keys from it. */
  commandId: string;
  state: SagaState;
  /** Outputs of the saga's succeeded steps, by step name. */
  outputs: Record<string, unknown>;
  /** Aborted when the step's timeout passes or the worker shuts down. */
  signal: AbortSignal;
  correlationId?: string;
}

/** Writes an effect's domain events inside the transaction of the saga's decision. */
export type RecordEffect = (tx: PoolClient) => Promise<unknown>;

/**
 * The domain side of an effect, committed with the saga's StepSucceeded / StepFailed (together or
 * not at all). Either declared as `commands` (preferred: the executor decides them with the
 * aggregates' deciders and commits many sagas' outcomes in one group commit) or as a `record`
 * function run in the transaction (free-form, e.g. several writes; committed on its own). Both may
 * throw a business refusal, which turns success into failure.
 */
export interface DomainEffects {
  /** Commands (without `tx`) with deterministic command ids. */
  commands?: DomainCommandEnvelope[];
  record?: RecordEffect;
}

/** The outcome of an effect's external part, with its domain effects. */
export interface StepOutcome extends DomainEffects {
  output?: unknown;
}

/**
 * A failed effect. `retryable: false` is a business refusal that retrying cannot fix. `effects`:
 * domain events that record the failure (a `record` function or declared `commands`).
 */
export class StepFailure extends Error implements DomainEffects {
  readonly record?: RecordEffect;
  readonly commands?: DomainCommandEnvelope[];

  constructor(
    message: string,
    readonly retryable = true,
    readonly code?: string,
    effects?: RecordEffect | DomainCommandEnvelope[],
  ) {
    super(message);
    this.name = 'StepFailure';
    if (typeof effects === 'function') this.record = effects;
    else if (effects) this.commands = effects;
  }
}

/** A saga type: its plan from the input, and the effects of its steps and compensations. */
export interface SagaDefinition<Input = any> {
  type: SagaType;
  /** Executes (and, in group commits, prepares) the `commands` its effects declare. */
  readonly commands?: DomainCommandDispatcher;
  validate(input: Input): ValidationProblem[];
  plan(input: Input): SagaPlan;
  run(ctx: StepContext): Promise<StepOutcome>;
  compensate(ctx: StepContext): Promise<StepOutcome>;
}
