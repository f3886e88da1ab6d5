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

/**
 * The queue entry of an external step (see StepPlan.external): what an agent must do. Either any
 * agent of the tenant with `capability`, or the agent `agentId` (an initial task).
 */
export interface ExternalTaskSpec {
  taskId: string;
  capability?: string;
  agentId?: string;
  /** Higher first: LOW=0, NORMAL=1, HIGH=2, CRITICAL=3. */
  priority: number;
  /** The task's config with its templates rendered. */
  input: unknown;
  /** Held back this long after the step started. */
  delayMs?: number;
  /** Fails EXPIRED when no instance took it within this long. */
  ttlMs?: number;
  /** Bounds each attempt from the moment an instance locks it. */
  attemptTimeoutMs?: number;
  /** The domain commands recording the task's outcome, committed with the step's outcome. */
  outcomeCommands?(outcome: { output: unknown } | { error: string }, at: string): DomainCommandEnvelope[];
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
  /** The queue entry of an external step's attempt, from the state in which it starts. */
  externalTask?(state: SagaState, step: string, attempt: number): ExternalTaskSpec;
}
