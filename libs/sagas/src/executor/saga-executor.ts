import { randomUUID } from 'crypto';
import { hostname } from 'os';
import { Pool, PoolClient } from 'pg';
import { EventStore } from '@app/event-store';
import { SagaError } from '../core/saga.errors';
import { SagaState } from '../core/saga.state';
import { SagaDefinition } from '../definitions/saga-definition';
import { TransitionCommitter } from './commit';
import { ExecutorContext, Loaded, SagaExecutorOptions } from './executor.types';
import { SagaGroupCommit } from './group-commit';
import { loadSaga, loadSagas } from './load';
import { OperatorCommands } from './operator-commands';
import { ExternalOutcome, ExternalOutcomes } from './external-work';
import { SagaRunner } from './saga-runner';
import { SagaStarter, StartSagaRequest, StartSagaResult } from './start';
import { SagaWakeups } from './wakeups';
import { WorkerLoop } from './worker-loop';

/**
 * The saga executor. Every transition is an event on `saga-<id>` appended with the expected
 * version, in the same transaction as the pending-work row it implies and the domain events of
 * the step's effect. Workers claim due sagas with FOR UPDATE SKIP LOCKED under a lease; a worker
 * that dies loses nothing: its lease expires and another worker resumes from the saga's events
 * (re-running an in-flight effect is safe: event ids derive from deterministic command ids).
 *
 * This class only composes the rooms that do the work: start.ts (idempotent starts),
 * operator-commands.ts, load.ts, transition.ts (what a transition writes), commit.ts and
 * group-commit.ts, wakeups.ts (LISTEN/NOTIFY), worker-loop.ts (claims and leases) and
 * saga-runner.ts (the per-saga driver and its effects).
 */
export class SagaExecutor {
  readonly workerId: string;
  private readonly definitions = new Map<string, SagaDefinition>();
  private readonly ctx: ExecutorContext;
  private readonly starter: SagaStarter;
  private readonly operator: OperatorCommands;
  private readonly external: ExternalOutcomes;
  private readonly runner: SagaRunner;
  private readonly loop: WorkerLoop;

  constructor(pool: Pool, store: EventStore, definitions: SagaDefinition[], options: SagaExecutorOptions = {}) {
    definitions.forEach((d) => this.definitions.set(d.type, d));
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const workerId = this.workerId;
    this.ctx = {
      pool,
      store,
      workerId,
      leaseMs: options.leaseMs ?? 30_000,
      random: options.random ?? Math.random,
      options,
      definition: (type) => this.definition(type),
      log: (message, fields) => options.log?.(message, { worker: workerId, ...fields }),
    };
    const wakeups = new SagaWakeups(pool, () => this.wake());
    const committer = new TransitionCommitter(this.ctx);
    const groupCommit = new SagaGroupCommit(this.ctx, committer, wakeups);
    const commit = groupCommit.commit.bind(groupCommit);
    const newWork = () => {
      this.wake();
      options.onNewWork?.();
    };
    this.starter = new SagaStarter(this.ctx, commit, (sagaId) => this.load(sagaId), newWork);
    this.operator = new OperatorCommands(this.ctx, committer, wakeups, newWork);
    this.external = new ExternalOutcomes(this.ctx, committer, newWork);
    this.runner = new SagaRunner(this.ctx, commit, () => this.loop.signal);
    this.loop = new WorkerLoop(this.ctx, wakeups, (sagaId, preloaded) => this.process(sagaId, preloaded));
  }

  definition(type: string): SagaDefinition {
    const d = this.definitions.get(type);
    if (!d) throw new SagaError('INVALID_COMMAND', `unknown saga type ${type}`);
    return d;
  }

  /** Starts a saga (idempotent with a key: same key + same body → same saga; other body → 409). */
  start(req: StartSagaRequest): Promise<StartSagaResult> {
    return this.starter.start(req);
  }

  /** Operator: retry the stuck compensation of a COMPENSATION_FAILED saga (else SAGA_NOT_STUCK). */
  retryCompensation(sagaId: string, tenantId: string, actor: string, reason?: string): Promise<SagaState> {
    return this.operator.retryCompensation(sagaId, tenantId, actor, reason);
  }

  /** Operator: mark the stuck compensation SKIPPED and go on compensating. */
  skipCompensation(sagaId: string, tenantId: string, step: string, actor: string, reason: string): Promise<SagaState> {
    return this.operator.skipCompensation(sagaId, tenantId, step, actor, reason);
  }

  /** Operator: stop a SCHEDULED, RUNNING or SUSPENDED saga and compensate what it completed. */
  cancel(sagaId: string, tenantId: string, actor: string, reason: string): Promise<SagaState> {
    return this.operator.cancel(sagaId, tenantId, actor, reason);
  }

  /** Operator: resume a SUSPENDED saga (else SAGA_NOT_SUSPENDED). */
  resume(sagaId: string, tenantId: string, actor: string, reason: string, config?: unknown): Promise<SagaState> {
    return this.operator.resume(sagaId, tenantId, actor, reason, config);
  }

  /** Operator: compensate a SUSPENDED saga (else SAGA_NOT_SUSPENDED). */
  compensate(sagaId: string, tenantId: string, actor: string, reason: string): Promise<SagaState> {
    return this.operator.compensate(sagaId, tenantId, actor, reason);
  }

  /** A signal for the saga's `wait` steps (SAGA_TERMINAL for a finished saga). */
  signal(sagaId: string, tenantId: string, actor: string, signal: { name: string; signalId: string; payload?: unknown }): Promise<SagaState> {
    return this.operator.signal(sagaId, tenantId, actor, signal);
  }

  /**
   * Records the outcome of an external step's attempt (an agent's completion or failure, a queue
   * expiry): `stale` when the saga no longer waits for that attempt.
   */
  reportExternalOutcome(outcome: ExternalOutcome): Promise<'recorded' | 'stale'> {
    return this.external.report(outcome);
  }

  /** Several sagas' states in one read (missing sagas are absent). */
  loadMany(sagaIds: string[]): Promise<Map<string, Loaded>> {
    return loadSagas(this.ctx.store, sagaIds);
  }

  /** The saga's state folded from its stream, or undefined when it does not exist. */
  load(sagaId: string, tx?: PoolClient): Promise<Loaded | undefined> {
    return loadSaga(this.ctx.store, sagaId, tx);
  }

  startWorker(): Promise<void> {
    return this.loop.start();
  }

  /** Stops claiming, lets in-flight sagas finish their current effect, releases leases. */
  stopWorker(): Promise<void> {
    return this.loop.stop();
  }

  /** Look for due work now (e.g. a Redis wake-up from another process). */
  wake(): void {
    this.loop.wake();
  }

  get inFlight(): number {
    return this.loop.inFlight;
  }

  /** Drives one claimed saga as far as it can go now (see SagaRunner.process). */
  process(sagaId: string, preloaded?: Loaded): Promise<void> {
    return this.runner.process(sagaId, preloaded);
  }
}
