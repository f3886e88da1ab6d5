import { PoolClient } from 'pg';
import { SagaPlan, SagaType } from '../core/saga.types';
import { SagaState } from '../core/saga.state';
import { ValidationProblem } from '../core/dag';

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

/**
 * The outcome of an effect's external part. `record` runs inside the transaction that also
 * appends the saga's StepSucceeded / StepFailed, so domain events and the saga's decision commit
 * together (or not at all). `record` may throw a business refusal to turn success into failure.
 */
export interface StepOutcome {
  output?: unknown;
  record?: (tx: PoolClient) => Promise<unknown>;
}

/** A failed effect. `retryable: false` is a business refusal that retrying cannot fix. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly retryable = true,
    readonly code?: string,
    readonly record?: (tx: PoolClient) => Promise<unknown>,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** A saga type: its plan from the input, and the effects of its steps and compensations. */
export interface SagaDefinition<Input = any> {
  type: SagaType;
  validate(input: Input): ValidationProblem[];
  plan(input: Input): SagaPlan;
  run(ctx: StepContext): Promise<StepOutcome>;
  compensate(ctx: StepContext): Promise<StepOutcome>;
}
