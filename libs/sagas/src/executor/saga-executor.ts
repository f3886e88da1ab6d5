import { createHash, randomUUID } from 'crypto';
import { setMaxListeners } from 'events';
import { hostname } from 'os';
import { Pool, PoolClient } from 'pg';
import {
  WakeableSleep,
  EventMetadata,
  EventStore,
  isEventStoreError,
  RecordedEvent,
  NewEvent,
  eventIdFor,
} from '@app/event-store';
import { nextWork } from '../core/next-work';
import { SagaCommand } from '../core/saga.commands';
import { decide, evolve, foldSagaEvents } from '../core/saga.decider';
import { SagaError } from '../core/saga.errors';
import { SagaEvent } from '../core/saga.events';
import { SagaState, initialSagaState } from '../core/saga.state';
import { SagaType, sagaStreamId } from '../core/saga.types';
import { ValidationProblem } from '../core/dag';
import { SagaDefinition, StepContext, StepFailure, StepOutcome } from './saga-definition';
import { claimIdempotencyKey } from './postgres/saga-idempotency';
import {
  claimDueWork,
  releaseAllLeases,
  releaseWork,
  removeWork,
  renewLeases,
  scheduleWork,
} from './postgres/saga-work';

export const SAGA_WORK_CHANNEL = 'saga_work';

export interface SagaExecutorOptions {
  /** Unique per process; owns leases. */
  workerId?: string;
  /** Sagas processed at the same time by this worker. */
  concurrency?: number;
  /** Fallback polling for due work when no wake-up arrives. */
  pollIntervalMs?: number;
  /** How long a claim lasts without renewal; a dead worker's sagas are picked up after it. */
  leaseMs?: number;
  /** LISTEN for new-work notifications (a dedicated connection). */
  listen?: boolean;
  random?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Inside the transaction of every saga transition (inline projections). */
  inTransaction?: (tx: PoolClient, events: RecordedEvent[]) => Promise<void>;
  /** After the commit of every saga transition (metrics, live updates, wake-ups). */
  afterCommit?: (events: RecordedEvent[], state: SagaState) => void;
  /** New work for any worker (a start, an operator action): e.g. wake other processes via Redis. */
  onNewWork?: () => void;
}

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

interface Loaded {
  state: SagaState;
  version: number;
}

/**
 * A saga held by this worker under its lease (see process()). While the lease holds, this worker
 * is the saga's only writer in the normal case, so its state is kept here instead of being read
 * back after every commit; an operator or a worker that took over after an expired lease shows up
 * as a WRONG_EXPECTED_VERSION conflict, after which the state is loaded again.
 */
interface HeldSaga {
  sagaId: string;
  tenantId: string;
  /** The state at the last commit of this worker (or the last load). */
  current: Loaded;
  /** The saga's commits run one after another, each deciding on the state the previous left. */
  queue: Promise<unknown>;
  /**
   * The saga_work row exists with a due time no later than this (it was due when claimed). While
   * we hold the lease, a due time at or after it needs no upsert: a crash makes the saga claimable
   * when the lease expires either way (an early claim only finds nothing due yet).
   */
  dueAtMs: number;
}

const TERMINAL = new Set(['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);

/**
 * The saga executor. Every transition is an event on `saga-<id>` appended with the expected
 * version, in the same transaction as the pending-work row it implies and the domain events of
 * the step's effect. Workers claim due sagas with FOR UPDATE SKIP LOCKED under a lease; a worker
 * that dies loses nothing: its lease expires and another worker resumes from the saga's events
 * (re-running an in-flight effect is safe: event ids derive from deterministic command ids).
 */
export class SagaExecutor {
  readonly workerId: string;
  private readonly definitions = new Map<string, SagaDefinition>();
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly random: () => number;
  private readonly active = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopped = true;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private listener?: PoolClient;
  private readonly pause = new WakeableSleep();

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    definitions: SagaDefinition[],
    private readonly options: SagaExecutorOptions = {},
  ) {
    definitions.forEach((d) => this.definitions.set(d.type, d));
    setMaxListeners(0, this.shutdown.signal); // every in-flight effect listens for shutdown
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.concurrency = options.concurrency ?? 32;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  definition(type: string): SagaDefinition {
    const d = this.definitions.get(type);
    if (!d) throw new SagaError('INVALID_COMMAND', `unknown saga type ${type}`);
    return d;
  }

  // ------------------------------------------------------------------ commands (API side)

  /** Starts a saga (idempotent with a key: same key + same body → same saga; other body → 409). */
  async start(req: StartSagaRequest): Promise<StartSagaResult> {
    const definition = this.definition(req.sagaType);
    const problems = definition.validate(req.input as never);
    if (problems.length) throw new SagaInputError(problems);
    const plan = definition.plan(req.input as never);
    const sagaId = randomUUID();
    const requestHash = createHash('sha256').update(stableJson({ type: req.sagaType, input: req.input })).digest('hex');
    const at = new Date();

    const client = await this.pool.connect();
    try {
      await client.query('begin');
      if (req.idempotencyKey !== undefined) {
        const existing = await claimIdempotencyKey(client, req.tenantId, req.idempotencyKey, sagaId, requestHash);
        if (existing) {
          await client.query('rollback');
          if (existing.requestHash !== requestHash) throw new IdempotencyConflictError(existing.sagaId);
          const loaded = await this.load(existing.sagaId, client);
          return { sagaId: existing.sagaId, status: loaded?.state.status ?? 'RUNNING', created: false };
        }
      }
      const command: SagaCommand = {
        type: 'StartSaga',
        data: {
          sagaId,
          tenantId: req.tenantId,
          sagaType: req.sagaType,
          input: req.input,
          plan,
          idempotencyKey: req.idempotencyKey,
          correlationId: req.metadata?.correlationId,
          at,
        },
      };
      const events = decide(command, initialSagaState());
      const state = await this.appendTransition(client, { state: initialSagaState(), version: -1 }, events, sagaId, req.tenantId, req.metadata);
      // Delivered at commit; sent on this connection so a start never waits for a second one.
      await client.query(`select pg_notify('${SAGA_WORK_CHANNEL}', '')`);
      await client.query('commit');
      this.afterCommit(state.recorded, state.state);
      this.wake();
      this.options.onNewWork?.();
      return { sagaId, status: state.state.status, created: true };
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Operator: retry the stuck compensation of a COMPENSATION_FAILED saga (else SAGA_NOT_STUCK). */
  retryCompensation(sagaId: string, tenantId: string, actor: string, reason?: string): Promise<SagaState> {
    return this.operatorCommand(sagaId, tenantId, { type: 'RetryCompensation', data: { actor, reason, at: new Date() } });
  }

  /** Operator: mark the stuck compensation SKIPPED and go on compensating. */
  skipCompensation(sagaId: string, tenantId: string, step: string, actor: string, reason: string): Promise<SagaState> {
    return this.operatorCommand(sagaId, tenantId, { type: 'SkipCompensation', data: { step, actor, reason, at: new Date() } });
  }

  /** Operator: stop a RUNNING saga and compensate what it completed. */
  cancel(sagaId: string, tenantId: string, actor: string, reason: string): Promise<SagaState> {
    return this.operatorCommand(sagaId, tenantId, { type: 'CancelSaga', data: { actor, reason, at: new Date() } });
  }

  private async operatorCommand(sagaId: string, tenantId: string, command: SagaCommand): Promise<SagaState> {
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.load(sagaId);
      if (!loaded || loaded.state.tenantId !== tenantId) throw new SagaError('SAGA_NOT_FOUND', `saga ${sagaId} not found`);
      const events = decide(command, loaded.state);
      try {
        const result = await this.commitTransition(loaded, events, sagaId, tenantId, { actor: (command.data as { actor?: string }).actor });
        await this.notifyWork();
        return result.state;
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || attempt >= 10) throw err;
        // A worker's transition took the version first. A saga whose steps commit back to back
        // could win every immediate retry: wait a short, growing, random time before deciding again.
        await delay(5 + this.random() * 20 * (attempt + 1));
      }
    }
  }

  /** The saga's state folded from its stream, or undefined when it does not exist. */
  async load(sagaId: string, tx?: PoolClient): Promise<Loaded | undefined> {
    const events: SagaEvent[] = [];
    let version = -1;
    for (;;) {
      const page = await this.store.readStream(sagaStreamId(sagaId), { fromVersion: version + 1, limit: 1000, tx });
      for (const e of page.events) events.push({ type: e.type, data: e.data } as SagaEvent);
      if (page.events.length) version = page.events[page.events.length - 1].version;
      if (page.events.length < 1000) break;
    }
    if (version < 0) return undefined;
    return { state: foldSagaEvents(events), version };
  }

  // ------------------------------------------------------------------ transitions

  /**
   * The change to the saga's pending-work row that a transition to `state` implies: none while we
   * hold the saga (`held`) and the row is already due early enough (see HeldSaga.dueAtMs).
   */
  private workChange(state: SagaState, held?: HeldSaga): { remove: true } | { dueAt: Date } | undefined {
    if (TERMINAL.has(state.status)) return { remove: true };
    // Never later than the lease: if this worker dies, another one resumes the saga once the
    // lease has expired, not only at the step's timeout. (A live owner renews its lease.)
    const work = nextWork(state, new Date());
    const leaseEnd = Date.now() + this.leaseMs;
    const dueAt = work.actions.length
      ? new Date()
      : new Date(Math.min(work.nextDueAt ? Date.parse(work.nextDueAt) : leaseEnd, leaseEnd));
    return held && dueAt.getTime() >= held.dueAtMs ? undefined : { dueAt };
  }

  /**
   * Appends saga events (expected version = the loaded one) with the pending-work row they imply,
   * inside `tx`. Returns the new state and the recorded events. Without `tx` (only when there is
   * no pending-work change and no inTransaction hook) the append is one atomic statement.
   */
  private async appendTransition(
    tx: PoolClient | undefined,
    loaded: Loaded,
    events: SagaEvent[],
    sagaId: string,
    tenantId: string,
    metadata?: Partial<EventMetadata>,
    held?: HeldSaga,
  ): Promise<Loaded & { recorded: RecordedEvent[] }> {
    if (events.length === 0) return { ...loaded, recorded: [] };
    // Ids derive from the version AND the content: two different decisions taken at the same
    // version (parallel outcomes) conflict on the expected version, not on the event ids, while
    // re-sending the very same decision is an idempotent replay.
    const commandId = `${sagaId}@${loaded.version + 1}:${createHash('sha256').update(stableJson(events)).digest('hex').slice(0, 32)}`;
    const newEvents: NewEvent[] = events.map((e, i) => ({ eventId: eventIdFor(commandId, i), type: e.type, data: e.data }));
    const result = await this.store.appendToStream(sagaStreamId(sagaId), newEvents, {
      expectedVersion: loaded.version,
      tenantId,
      // Every transition carries the correlation id of the request that started the saga, and is
      // caused by the saga's previous event.
      metadata: {
        correlationId: loaded.state.correlationId,
        causationId: loaded.version >= 0 ? `${sagaStreamId(sagaId)}@${loaded.version}` : undefined,
        ...metadata,
        actor: metadata?.actor ?? `worker:${this.workerId}`,
      },
      tx,
      // A conflict on the saga stream means another decision won: the whole transaction is
      // retried from a fresh load, so no savepoint is needed.
      savepoint: false,
    });
    let state = loaded.state;
    for (const e of events) state = evolve(state, e);
    const change = this.workChange(state, held);
    if (change && !tx) throw new Error('a pending-work change needs a transaction');
    if (change && 'remove' in change) await removeWork(tx!, sagaId);
    else if (change) await scheduleWork(tx!, { sagaId, tenantId, sagaType: state.sagaType, dueAt: change.dueAt });
    const recordedAt = new Date();
    const recorded: RecordedEvent[] = newEvents.map((e, i) => ({
      eventId: e.eventId!,
      streamId: sagaStreamId(sagaId),
      version: result.firstVersion + i,
      globalPosition: result.globalPosition - (newEvents.length - 1 - i),
      type: e.type,
      schemaVersion: 1,
      data: e.data,
      metadata: { ...metadata, tenantId } as EventMetadata,
      recordedAt,
    }));
    if (this.options.inTransaction) await this.options.inTransaction(tx!, recorded);
    return { state, version: result.nextExpectedVersion, recorded };
  }

  /** One transaction: optional effect record, then the saga events. */
  private async commitTransition(
    loaded: Loaded,
    events: SagaEvent[],
    sagaId: string,
    tenantId: string,
    metadata?: Partial<EventMetadata>,
    record?: (tx: PoolClient) => Promise<unknown>,
    held?: HeldSaga,
  ): Promise<Loaded & { recorded: RecordedEvent[] }> {
    if (events.length === 0 && !record) return { ...loaded, recorded: [] };
    if (held && !record && !this.options.inTransaction && events.length > 0) {
      let state = loaded.state;
      for (const e of events) state = evolve(state, e);
      if (!this.workChange(state, held)) {
        // Only the saga's events to write (e.g. StepStarted): one atomic append, no transaction.
        const result = await this.appendTransition(undefined, loaded, events, sagaId, tenantId, metadata, held);
        if (result.version > held.current.version) held.current = { state: result.state, version: result.version };
        this.afterCommit(result.recorded, result.state);
        return result;
      }
    }
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      if (record) await record(client);
      const result = await this.appendTransition(client, loaded, events, sagaId, tenantId, metadata, held);
      await client.query('commit');
      if (held && result.version > held.current.version) held.current = { state: result.state, version: result.version };
      this.afterCommit(result.recorded, result.state);
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private afterCommit(recorded: RecordedEvent[], state: SagaState): void {
    if (!recorded.length) return;
    this.store.notifyAppended();
    this.options.afterCommit?.(recorded, state);
  }

  // ------------------------------------------------------------------ worker loop

  async startWorker(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.pause.reset();
    if (this.options.listen !== false) await this.listen();
    this.heartbeat = setInterval(() => {
      renewLeases(this.pool, this.workerId, [...this.active.keys()], this.leaseMs).catch((err) =>
        this.log('lease renewal failed', { error: (err as Error).message }),
      );
    }, Math.max(200, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
    this.loop = this.run();
  }

  /** Stops claiming, lets in-flight sagas finish their current effect, releases leases. */
  async stopWorker(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pause.cancel();
    await this.loop;
    this.shutdown.abort(new Error('worker shutting down'));
    await Promise.allSettled([...this.active.values()]);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await releaseAllLeases(this.pool, this.workerId).catch(() => undefined);
    if (this.listener) {
      const l = this.listener;
      this.listener = undefined;
      l.removeAllListeners('notification');
      await l.query(`unlisten ${SAGA_WORK_CHANNEL}`).catch(() => undefined);
      l.release();
    }
  }

  /** Look for due work now (e.g. a Redis wake-up from another process). */
  wake(): void {
    this.pause.wake();
  }

  get inFlight(): number {
    return this.active.size;
  }

  private async notifyWork(): Promise<void> {
    this.wake();
    this.options.onNewWork?.();
    await this.pool.query(`select pg_notify('${SAGA_WORK_CHANNEL}', '')`).catch(() => undefined);
  }

  private async listen(): Promise<void> {
    try {
      const client = await this.pool.connect();
      client.on('notification', () => this.wake());
      client.on('error', () => {
        if (this.listener !== client) return; // released by stopWorker: the pool owns it now
        this.listener = undefined;
        client.release(true);
      });
      await client.query(`listen ${SAGA_WORK_CHANNEL}`);
      this.listener = client;
    } catch {
      // Polling alone stays correct.
    }
  }

  private log(message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(message, { worker: this.workerId, ...fields });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.pause.consume();
      const free = this.concurrency - this.active.size;
      let claimed: string[] = [];
      if (free > 0) {
        try {
          claimed = await claimDueWork(this.pool, this.workerId, free, this.leaseMs);
          failures = 0;
        } catch (err) {
          failures++;
          this.log('claiming work failed', { error: (err as Error).message });
          await this.pause.sleep(Math.min(10_000, 100 * 2 ** Math.min(failures, 7)), { wakeable: false });
          continue;
        }
      }
      for (const sagaId of claimed) {
        if (this.active.has(sagaId)) continue;
        const p = this.process(sagaId)
          .catch((err) => this.log('saga processing failed', { sagaId, error: (err as Error).message }))
          .finally(() => {
            this.active.delete(sagaId);
            this.wake();
          });
        this.active.set(sagaId, p);
      }
      if (claimed.length === 0 || this.active.size >= this.concurrency) await this.pause.sleep(this.options.pollIntervalMs ?? 250);
    }
  }

  /**
   * Drives one claimed saga as far as it can go now: starts due steps, runs their effects
   * (in parallel up to maxParallel), records outcomes, compensates in reverse order, and gives
   * the saga back with its next due time when it has to wait.
   */
  async process(sagaId: string): Promise<void> {
    const running = new Map<string, Promise<void>>();
    const claimedAt = Date.now();
    const first = await this.load(sagaId);
    let releaseAt: Date | string = new Date(Date.now() + this.leaseMs);
    if (!first) {
      await releaseWork(this.pool, this.workerId, sagaId, releaseAt).catch(() => undefined);
      return;
    }
    const held: HeldSaga = { sagaId, tenantId: first.state.tenantId, current: first, queue: Promise.resolve(), dueAtMs: claimedAt };
    const tenantId = held.tenantId;
    const run = (step: string, attempt: number, phase: 'run' | 'compensate') => {
      const key = `${step}:${phase}`;
      running.set(key, this.runEffect(held, step, attempt, phase).finally(() => running.delete(key)));
    };
    /**
     * Commits the events `decideAt` returns, in the saga's commit queue, unless another transition
     * (an effect's outcome) committed since `version`, the state this decision was planned on: then
     * undefined, and the caller plans again.
     */
    const commitPlanned = (version: number, decideAt: (state: SagaState) => SagaEvent[]) =>
      this.serialized(held, async () => {
        if (held.current.version !== version) return undefined;
        return this.commitTransition(held.current, decideAt(held.current.state), sagaId, tenantId, undefined, undefined, held);
      });
    try {
      while (!this.shutdown.signal.aborted) {
        const { state, version } = held.current;
        if (TERMINAL.has(state.status)) return;
        const now = new Date();
        const work = nextWork(state, now);
        let progressed = false;

        // Effects in flight in the saga's events but not here: their worker died. Resume them
        // (same attempt; the effect is idempotent), instead of waiting for their timeout.
        for (const [name, step] of Object.entries(state.steps)) {
          if (step.status === 'RUNNING' && !running.has(`${name}:run`) && (step.timeoutAt === undefined || Date.parse(step.timeoutAt) > now.getTime())) {
            run(name, step.attempts, 'run');
          }
          if (step.status === 'COMPENSATING' && step.timeoutAt !== undefined && !running.has(`${name}:compensate`) && Date.parse(step.timeoutAt) > now.getTime()) {
            run(name, step.compensationAttempts, 'compensate');
          }
        }

        const starts: string[] = [];
        for (const action of work.actions) {
          switch (action.kind) {
            case 'start-step':
            case 'retry-step':
              starts.push(action.step);
              break;
            case 'timeout-step': {
              const key = `${action.step}:${action.phase === 'step' ? 'run' : 'compensate'}`;
              if (running.has(key)) break; // our own effect enforces its timeout
              const error = `timeout after ${action.timeoutMs} ms`;
              const command: SagaCommand =
                action.phase === 'step'
                  ? { type: 'FailStep', data: { step: action.step, attempt: action.attempt, error, at: now, jitter: this.random() } }
                  : { type: 'FailStepCompensation', data: { step: action.step, attempt: action.attempt, error, at: now, jitter: this.random() } };
              await commitPlanned(version, (s) => decide(command, s));
              progressed = true;
              break;
            }
            case 'compensate-step': {
              const result = await commitPlanned(version, (s) => decide({ type: 'StartStepCompensation', data: { step: action.step, at: now } }, s));
              if (result) run(action.step, result.state.steps[action.step].compensationAttempts, 'compensate');
              progressed = true;
              break;
            }
            case 'finish-compensation':
              await commitPlanned(version, (s) => decide({ type: 'FinishCompensation', data: { at: now } }, s));
              progressed = true;
              break;
          }
          if (progressed) break; // re-plan from the new state
        }

        if (!progressed && starts.length) {
          // All due steps start in one transition (one append of several StepStarted).
          const started: string[] = [];
          const result = await commitPlanned(version, (current) => {
            let s = current;
            const events: SagaEvent[] = [];
            for (const step of starts) {
              try {
                const evs = decide({ type: 'StartStep', data: { step, at: now } }, s);
                for (const e of evs) s = evolve(s, e);
                events.push(...evs);
                started.push(step);
              } catch (err) {
                if (!(err instanceof SagaError)) throw err;
              }
            }
            return events;
          });
          if (result) for (const step of started) run(step, result.state.steps[step].attempts, 'run');
          progressed = result === undefined || started.length > 0;
        }

        if (progressed) continue;
        if (running.size) {
          const due = work.nextDueAt ? Math.max(0, Date.parse(work.nextDueAt) - Date.now()) : this.leaseMs;
          // Our effects' outcomes update `held` as they commit: no need to read the stream again.
          await Promise.race([...running.values(), delay(Math.min(due, this.leaseMs))]);
          continue;
        }
        releaseAt = work.nextDueAt ?? new Date(Date.now() + this.leaseMs);
        return;
      }
    } catch (err) {
      if (isEventStoreError(err, 'WRONG_EXPECTED_VERSION')) {
        // Another worker moved the saga on (our lease had expired): let it be due again now.
        releaseAt = new Date();
        return;
      }
      releaseAt = new Date(Date.now() + 1000);
      throw err;
    } finally {
      await Promise.allSettled([...running.values()]);
      await releaseWork(this.pool, this.workerId, sagaId, releaseAt).catch(() => undefined);
    }
  }

  /** Runs `fn` after the saga's earlier commits (its failure does not stop later ones). */
  private serialized<T>(held: HeldSaga, fn: () => Promise<T>): Promise<T> {
    const result = held.queue.then(fn);
    held.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs one effect (a step or a compensation attempt) with its timeout, then records the outcome
   * with the effect's own domain events in one transaction. Stale outcomes change nothing.
   */
  private async runEffect(held: HeldSaga, step: string, attempt: number, phase: 'run' | 'compensate'): Promise<void> {
    const { sagaId } = held;
    const { state } = held.current;
    const plan = state.plan.steps.find((s) => s.name === step);
    if (!plan) return;
    const timeoutMs = phase === 'run' ? plan.timeoutMs : plan.compensation?.timeoutMs ?? plan.timeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    const onShutdown = () => controller.abort(this.shutdown.signal.reason);
    this.shutdown.signal.addEventListener('abort', onShutdown);
    const outputs: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(state.steps)) if (s.status === 'SUCCEEDED' || s.output !== undefined) outputs[name] = s.output;
    const ctx: StepContext = {
      sagaId,
      tenantId: state.tenantId,
      step,
      attempt,
      phase,
      commandId: `${sagaId}:${step}:${phase}`,
      state,
      outputs,
      signal: controller.signal,
      correlationId: state.correlationId,
    };
    const definition = this.definition(state.sagaType);
    let outcome: StepOutcome | undefined;
    let failure: StepFailure | undefined;
    try {
      const effect = phase === 'run' ? definition.run(ctx) : definition.compensate(ctx);
      outcome = await Promise.race([
        effect,
        new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason))),
      ]);
    } catch (err) {
      failure = toStepFailure(err);
    } finally {
      clearTimeout(timer);
      this.shutdown.signal.removeEventListener('abort', onShutdown);
    }
    if (this.shutdown.signal.aborted && failure) return; // not the effect's fault: resume elsewhere

    const commit = (events: SagaEvent[], record?: (tx: PoolClient) => Promise<unknown>) =>
      this.commitTransition(held.current, events, sagaId, held.tenantId, undefined, record, held);
    for (let round = 0; round < 20; round++) {
      const recorded = await this.serialized(held, async () => {
        const current = held.current;
        const at = new Date();
        try {
          if (outcome) {
            const command: SagaCommand =
              phase === 'run'
                ? { type: 'SucceedStep', data: { step, attempt, output: outcome.output, at } }
                : { type: 'SucceedStepCompensation', data: { step, attempt, at } };
            const events = decide(command, current.state);
            if (events.length === 0) return true; // stale: someone else recorded this attempt
            try {
              await commit(events, outcome.record);
              return true;
            } catch (err) {
              if (isEventStoreError(err, 'WRONG_EXPECTED_VERSION')) throw err;
              // The effect's own write refused (a domain rule) or failed: that is the step's failure.
              failure = toStepFailure(err);
              outcome = undefined;
            }
          }
          const f = failure!;
          const command: SagaCommand =
            phase === 'run'
              ? { type: 'FailStep', data: { step, attempt, error: f.message, at, jitter: this.random(), retryable: f.retryable } }
              : { type: 'FailStepCompensation', data: { step, attempt, error: f.message, at, jitter: this.random(), retryable: f.retryable } };
          const events = decide(command, current.state);
          if (events.length === 0) return true;
          const recordFailure = f.record;
          try {
            await commit(events, recordFailure);
          } catch (err) {
            if (isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || !recordFailure) throw err;
            // Recording the effect's failure details failed: still record the saga's decision.
            await commit(events);
          }
          return true;
        } catch (err) {
          if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION')) throw err;
          // Another writer (an operator, a worker after our lease expired) committed first:
          // read the saga again and decide again.
          const fresh = await this.load(sagaId);
          if (!fresh) return true;
          held.current = fresh;
          return false;
        }
      });
      if (recorded) return;
    }
  }
}

function toStepFailure(err: unknown): StepFailure {
  if (err instanceof StepFailure) return err;
  const e = err as { message?: string; code?: string; name?: string; permanent?: boolean };
  const message = e?.message ?? String(err);
  // Business refusals (domain rules, saga rules) will not change on retry.
  const business = e?.name === 'DomainError' || e?.name === 'SagaError' || e?.permanent === true;
  return new StepFailure(e?.code ? `${e.code}: ${message}` : message, !business, e?.code);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** JSON with object keys sorted, so the same body always hashes the same. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
