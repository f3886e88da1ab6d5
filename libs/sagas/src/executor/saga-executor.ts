import { createHash, randomUUID } from 'crypto';
import { setMaxListeners } from 'events';
import { hostname } from 'os';
import { Pool, PoolClient } from 'pg';
import {
  WakeableSleep,
  failureBackoffMs,
  EventMetadata,
  EventStore,
  isEventStoreError,
  RecordedEvent,
  AppendResult,
  StreamAppend,
  eventIdFor,
} from '@app/event-store';
import { advance } from '../core/advance';
import { nextWork } from '../core/next-work';
import { SagaCommand } from '../core/saga.commands';
import { decide, evolve, foldSagaEvents } from '../core/saga.decider';
import { SagaError } from '../core/saga.errors';
import { SagaEvent } from '../core/saga.events';
import { SagaState, initialSagaState } from '../core/saga.state';
import { SagaType, sagaStreamId } from '../core/saga.types';
import { ValidationProblem } from '../core/dag';
import { DomainEffects, SagaDefinition, StepContext, StepFailure, StepOutcome } from './saga-definition';
import { DomainCommandDispatcher } from './domain-commands';
import { claimIdempotencyKey } from './postgres/saga-idempotency';
import {
  claimDueWork,
  releaseAllLeases,
  releaseWork,
  renewLeases,
  applyWorkChanges,
  appendWithWorkChanges,
  lockStreams,
  WorkChanges,
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
  /** Group commit of saga transitions (defaults: 64 per commit, 4 at once). */
  groupCommit?: GroupCommitOptions;
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

/** The start's idempotency key is taken (rolls the start back; see start()). */
class KeyAlreadyUsed extends Error {
  constructor(
    readonly sagaId: string,
    readonly requestHash: string,
  ) {
    super('idempotency key already used');
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
  /**
   * Effects our own commits started (`step:phase:attempt`) and not yet launched: launched however
   * late the commit was (a short timeout may have passed while it queued); only an effect left
   * by another worker is checked against its timeout before it is resumed.
   */
  startedHere: Set<string>;
}

/** A saga transition to commit: the events decided on `loaded`, with their domain effects. */
interface Transition extends DomainEffects {
  sagaId: string;
  tenantId: string;
  loaded: Loaded;
  events: SagaEvent[];
  metadata?: Partial<EventMetadata>;
  /** The saga is held by this worker (see HeldSaga). */
  held?: HeldSaga;
  /** A new saga: other workers are told there is work. */
  start?: boolean;
}

type Committed = Loaded & { recorded: RecordedEvent[] };

interface Queued {
  t: Transition;
  resolve: (c: Committed) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Transitions in one group commit at most (1: every transition commits on its own). */
  maxSize?: number;
  /** Group commits running at once (each on its own connection). */
  maxInFlight?: number;
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
  private shutdown = new AbortController();
  private stopped = true;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private listener?: PoolClient;
  private readonly pause = new WakeableSleep();
  private readonly queue: Queued[] = [];
  private flushing = 0;
  private readonly batching: Required<GroupCommitOptions>;

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
    this.batching = { maxSize: options.groupCommit?.maxSize ?? 64, maxInFlight: options.groupCommit?.maxInFlight ?? 4 };
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
      result = await this.commitTransition(transition);
    } catch (err) {
      if (!(err instanceof KeyAlreadyUsed)) throw err;
      if (err.requestHash !== requestHash) throw new IdempotencyConflictError(err.sagaId);
      const loaded = await this.load(err.sagaId);
      return { sagaId: err.sagaId, status: loaded?.state.status ?? 'RUNNING', created: false };
    }
    this.wake();
    this.options.onNewWork?.();
    return { sagaId, status: result.state.status, created: true };
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

  /**
   * An operator's command: the saga's lock, then its state, the decision and the append, in one
   * transaction. Workers take the same lock before their version check, so a saga that moves on
   * every few milliseconds cannot overtake the operator between the read and the append (the
   * worker's next transition conflicts instead, and it reloads).
   */
  private async operatorCommand(sagaId: string, tenantId: string, command: SagaCommand): Promise<SagaState> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { t, result } = await this.store.transaction(async (client) => {
          await lockStreams(client, [sagaStreamId(sagaId)]);
          const loaded = await this.load(sagaId, client);
          if (!loaded || loaded.state.tenantId !== tenantId) throw new SagaError('SAGA_NOT_FOUND', `saga ${sagaId} not found`);
          const t: Transition = { sagaId, tenantId, loaded, events: decide(command, loaded.state), metadata: { actor: (command.data as { actor?: string }).actor } };
          return { t, result: await this.writeTransition(client, t) };
        });
        if (t.events.length) {
          this.store.notifyAppended();
          this.settle(t, result);
        }
        await this.notifyWork();
        return result.state;
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || attempt >= 10) throw err;
        this.log('operator command lost a version race; deciding again', { sagaId, command: command.type, attempt });
        // A worker's transition took the version first. A saga whose steps commit back to back
        // could win every immediate retry: wait a short, growing, random time before deciding again.
        await delay(5 + this.random() * 20 * (attempt + 1));
      }
    }
  }

  /** Several sagas' states in one read (missing sagas are absent). */
  async loadMany(sagaIds: string[]): Promise<Map<string, Loaded>> {
    const streams = await this.store.readStreams(sagaIds.map(sagaStreamId));
    const out = new Map<string, Loaded>();
    for (const sagaId of sagaIds) {
      const events = streams.get(sagaStreamId(sagaId));
      if (!events?.length) continue;
      out.set(sagaId, {
        state: foldSagaEvents(events.map((e) => ({ type: e.type, data: e.data }) as SagaEvent)),
        version: events[events.length - 1].version,
      });
    }
    return out;
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

  /** The append of a transition to the saga's stream (expected version = the loaded one). */
  private sagaAppend(t: Transition): StreamAppend {
    const { sagaId, loaded, events, metadata } = t;
    // Ids derive from the version AND the content: two different decisions taken at the same
    // version (parallel outcomes) conflict on the expected version, not on the event ids, while
    // re-sending the very same decision is an idempotent replay.
    const commandId = `${sagaId}@${loaded.version + 1}:${createHash('sha256').update(stableJson(events)).digest('hex').slice(0, 32)}`;
    return {
      streamId: sagaStreamId(sagaId),
      events: events.map((e, i) => ({ eventId: eventIdFor(commandId, i), type: e.type, data: e.data })),
      expectedVersion: loaded.version,
      tenantId: t.tenantId,
      // Every transition carries the correlation id of the request that started the saga, and is
      // caused by the saga's previous event.
      metadata: {
        correlationId: loaded.state.correlationId,
        causationId: loaded.version >= 0 ? `${sagaStreamId(sagaId)}@${loaded.version}` : undefined,
        ...metadata,
        actor: metadata?.actor ?? `worker:${this.workerId}`,
      },
    };
  }

  /** The state after the transition and the events as recorded (for hooks and live updates). */
  private committed(t: Transition, append: StreamAppend, result: AppendResult, after?: SagaState): Committed {
    let state = after ?? t.loaded.state;
    if (!after) for (const e of t.events) state = evolve(state, e);
    const recordedAt = new Date();
    const n = append.events.length;
    const recorded: RecordedEvent[] = append.events.map((e, i) => ({
      eventId: e.eventId!,
      streamId: append.streamId,
      version: result.firstVersion + i,
      globalPosition: result.globalPosition - (n - 1 - i),
      type: e.type,
      schemaVersion: 1,
      data: e.data,
      metadata: { ...t.metadata, tenantId: t.tenantId } as EventMetadata,
      recordedAt,
    }));
    return { state, version: result.nextExpectedVersion, recorded };
  }

  /** After the commit: the held state moves on, hooks run. */
  private settle(t: Transition, result: Committed): Committed {
    if (t.held && result.version > t.held.current.version) {
      t.held.current = { state: result.state, version: result.version };
      for (const e of t.events) {
        if (e.type === 'StepStarted') t.held.startedHere.add(`${e.data.step}:run:${e.data.attempt}`);
        if (e.type === 'StepCompensationStarted') t.held.startedHere.add(`${e.data.step}:compensate:${e.data.attempt}`);
      }
    }
    this.afterCommit(result.recorded, result.state);
    return result;
  }

  /** The dispatcher of the saga's declared domain commands. */
  private commandsOf(t: Transition): DomainCommandDispatcher {
    const dispatcher = this.definition(t.loaded.state.sagaType ?? '').commands;
    if (!dispatcher) throw new Error(`saga type ${t.loaded.state.sagaType} declares domain commands but has no dispatcher`);
    return dispatcher;
  }

  /**
   * Commits a transition: its domain effects, the saga's events (expected version = the loaded
   * one) and the pending-work row they imply, together. A worker's transitions without a `record`
   * function and unkeyed starts go through the group commit (many sagas, one transaction); the
   * rest commit on their own.
   */
  private commitTransition(t: Transition): Promise<Committed> {
    if (t.events.length === 0 && !t.record && !t.commands?.length) return Promise.resolve({ ...t.loaded, recorded: [] });
    if (t.record || (!t.held && !t.start) || this.batching.maxSize <= 1) return this.commitAlone(t);
    return new Promise<Committed>((resolve, reject) => {
      this.queue.push({ t, resolve, reject });
      this.pump();
    });
  }

  /** One transition in its own transaction. */
  private async commitAlone(t: Transition): Promise<Committed> {
    const result = await this.store.transaction((client) => this.writeTransition(client, t));
    if (!t.events.length) return result;
    this.store.notifyAppended();
    return this.settle(t, result);
  }

  /**
   * Writes a transition inside `client`'s transaction: the saga stream's lock first (every writer
   * of a saga stream takes it: see lockStreams), then the domain effects, the saga's events and
   * the pending-work change.
   */
  private async writeTransition(client: PoolClient, t: Transition): Promise<Committed> {
    await lockStreams(client, [sagaStreamId(t.sagaId)]);
    if (t.record) await t.record(client);
    if (t.commands?.length) {
      const dispatcher = this.commandsOf(t);
      for (const env of t.commands) await dispatcher.dispatch({ ...env, tx: client });
    }
    if (!t.events.length) return { ...t.loaded, recorded: [] };
    const append = this.sagaAppend(t);
    let state = t.loaded.state;
    for (const e of t.events) state = evolve(state, e);
    const change = this.workChange(state, t.held);
    // A conflict on the saga stream means another decision won: the whole transaction is retried
    // from a fresh load, so no savepoint is needed.
    const appended = await this.store.appendToStream(append.streamId, append.events, { ...append, tx: client, savepoint: false });
    const result = this.committed(t, append, appended, state);
    await applyWorkChanges(client, {
      schedule: change && 'dueAt' in change ? [{ sagaId: t.sagaId, tenantId: t.tenantId, sagaType: state.sagaType, dueAt: change.dueAt }] : [],
      remove: change && 'remove' in change ? [t.sagaId] : [],
      notify: t.start ? SAGA_WORK_CHANNEL : undefined,
    });
    if (this.options.inTransaction) await this.options.inTransaction(client, result.recorded);
    return result;
  }

  /** Starts group commits while transitions wait and fewer than `maxInFlight` are running. */
  private pump(): void {
    while (this.queue.length && this.flushing < this.batching.maxInFlight) {
      const batch = this.queue.splice(0, this.batching.maxSize);
      this.flushing++;
      void this.flush(batch).finally(() => {
        this.flushing--;
        this.pump();
      });
    }
  }

  /**
   * A group commit: the transitions of many sagas together. Their declared domain commands are
   * decided against one read of the aggregates' streams (outside any transaction: the append
   * checks every expected version), then ONE statement appends to every stream (domain and saga
   * streams, all or nothing) and makes every pending-work change: one round trip, one commit for
   * all. (With an `inTransaction` hook it is one transaction instead.) A member whose commands are
   * refused commits on its own (where the refusal becomes the step's failure); on a version
   * conflict the member that lost is settled on its own (a saga-stream conflict is its caller's to
   * handle: it reloads) and the others are grouped again.
   */
  private async flush(batch: Queued[]): Promise<void> {
    const alone = new Set<Queued>();
    const again: Queued[] = [];
    let members = batch;
    const client = await this.pool.connect().catch((err) => {
      for (const q of batch) q.reject(err);
      return undefined;
    });
    if (!client) return;
    const hook = this.options.inTransaction;
    let broken = false;
    try {
      if (hook) await client.query('begin');
      const domain = new Map<Queued, StreamAppend[]>();
      const withCommands = members.filter((q) => q.t.commands?.length);
      if (withCommands.length) {
        const byDispatcher = new Map<DomainCommandDispatcher, Queued[]>();
        for (const q of withCommands) {
          const d = this.commandsOf(q.t);
          byDispatcher.set(d, [...(byDispatcher.get(d) ?? []), q]);
        }
        for (const [dispatcher, qs] of byDispatcher) {
          const prepared = dispatcher.prepare ? await dispatcher.prepare(qs.map((q) => q.t.commands!), client) : undefined;
          qs.forEach((q, i) => {
            const r = prepared?.[i];
            if (!r || r instanceof Error) alone.add(q);
            else domain.set(q, r.appends);
          });
        }
        members = members.filter((q) => !alone.has(q));
      }
      if (members.length === 0) return;
      const appends: StreamAppend[] = [];
      const sagaIndex: number[] = [];
      const changes: WorkChanges = { schedule: [], remove: [] };
      const states = members.map((q) => {
        appends.push(...(domain.get(q) ?? []));
        sagaIndex.push(appends.length);
        appends.push(this.sagaAppend(q.t));
        let state = q.t.loaded.state;
        for (const e of q.t.events) state = evolve(state, e);
        const change = this.workChange(state, q.t.held);
        if (change && 'remove' in change) changes.remove.push(q.t.sagaId);
        else if (change) changes.schedule.push({ sagaId: q.t.sagaId, tenantId: q.t.tenantId, sagaType: state.sagaType, dueAt: change.dueAt });
        return state;
      });
      // Rows locked in saga-id order, as lease renewal (an index scan over the same ids) locks
      // them: concurrent group commits and renewals cannot deadlock on saga_work.
      changes.schedule.sort((x, y) => (x.sagaId < y.sagaId ? -1 : x.sagaId > y.sagaId ? 1 : 0));
      changes.remove.sort();
      let results: AppendResult[];
      try {
        results = await appendWithWorkChanges(
          client,
          this.store.streamsAppendCall(appends),
          changes,
          members.map((q) => sagaStreamId(q.t.sagaId)),
        );
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION')) throw err;
        if (hook) await client.query('rollback');
        // Who lost? Its saga stream: that member's decision is stale. A domain stream: the
        // members writing it commit on their own (load, decide, retry). The rest group again.
        const streamId = err.details.streamId as string;
        for (const q of members) {
          if (sagaStreamId(q.t.sagaId) === streamId) q.reject(err);
          else if (domain.get(q)?.some((a) => a.streamId === streamId)) alone.add(q);
          else again.push(q);
        }
        members = [];
        return;
      }
      const done = members.map((q, i) => this.committed(q.t, appends[sagaIndex[i]], results[sagaIndex[i]], states[i]));
      if (hook) {
        for (const c of done) await hook(client, c.recorded);
        await client.query('commit');
      }
      // Committed: from here on no member may be tried again.
      const committed = members;
      members = [];
      this.store.notifyAppended();
      if (committed.some((q) => q.t.start)) this.notifyNewSagas();
      committed.forEach((q, i) => q.resolve(this.settle(q.t, done[i])));
    } catch (err) {
      broken = (err as { code?: unknown })?.code === undefined && !(err instanceof Error && err.name === 'EventStoreError');
      if (hook) await client.query('rollback').catch(() => undefined);
      // Whatever failed (a connection, a duplicate id), each member is tried on its own.
      for (const q of members) alone.add(q);
    } finally {
      client.release(broken);
      for (const q of again) this.queue.push(q);
      if (again.length) this.pump();
      for (const q of alone) this.commitAlone(q.t).then(q.resolve, q.reject);
    }
  }

  private notifyTimer?: NodeJS.Timeout;

  /** Tells other processes' workers (LISTEN) that new sagas wait: one NOTIFY per few ms. */
  private notifyNewSagas(): void {
    if (this.notifyTimer) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      this.pool.query(`select pg_notify('${SAGA_WORK_CHANNEL}', '')`).catch(() => undefined);
    }, 2);
    this.notifyTimer.unref();
  }

  private afterCommit(recorded: RecordedEvent[], state: SagaState): void {
    if (!recorded.length) return;
    try {
      this.options.afterCommit?.(recorded, state);
    } catch (err) {
      // Metrics and live updates must not undo a commit (nor make it look failed).
      this.log('afterCommit hook failed', { sagaId: state.sagaId, error: (err as Error).message });
    }
  }

  // ------------------------------------------------------------------ worker loop

  async startWorker(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.pause.reset();
    if (this.shutdown.signal.aborted) {
      // Started again after stopWorker(): a fresh signal (the old one stays aborted).
      this.shutdown = new AbortController();
      setMaxListeners(0, this.shutdown.signal);
    }
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
      let loaded = new Map<string, Loaded>();
      if (free > 0) {
        try {
          claimed = await claimDueWork(this.pool, this.workerId, free, this.leaseMs);
          // All claimed sagas read in one query (process() reads a saga on its own when missing).
          if (claimed.length) loaded = await this.loadMany(claimed.filter((id) => !this.active.has(id))).catch(() => new Map());
          failures = 0;
        } catch (err) {
          failures++;
          this.log('claiming work failed', { error: (err as Error).message });
          await this.pause.sleep(failureBackoffMs(failures), { wakeable: false });
          continue;
        }
      }
      for (const sagaId of claimed) {
        if (this.active.has(sagaId)) continue;
        const p = this.process(sagaId, loaded.get(sagaId))
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
   * the saga back with its next due time when it has to wait. `preloaded`: its state as read at
   * the claim.
   */
  async process(sagaId: string, preloaded?: Loaded): Promise<void> {
    const running = new Map<string, Promise<void>>();
    const claimedAt = Date.now();
    const first = preloaded ?? (await this.load(sagaId));
    let releaseAt: Date | string = new Date(Date.now() + this.leaseMs);
    if (!first) {
      await releaseWork(this.pool, this.workerId, sagaId, releaseAt).catch(() => undefined);
      return;
    }
    const held: HeldSaga = {
      sagaId,
      tenantId: first.state.tenantId,
      current: first,
      queue: Promise.resolve(),
      dueAtMs: claimedAt,
      startedHere: new Set(),
    };
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
        return this.commitTransition({ sagaId, tenantId, loaded: held.current, events: decideAt(held.current.state), held });
      });
    try {
      while (!this.shutdown.signal.aborted) {
        const { state, version } = held.current;
        if (TERMINAL.has(state.status)) return;
        const now = new Date();
        const work = nextWork(state, now);

        // Effects started in the saga's events but not running here: started by our last
        // transition (a step's outcome starts the next ones in the same commit), or in flight at
        // a worker that died (same attempt again: effects are idempotent). Timed out ones are not
        // resumed: their timeout is decided below.
        for (const [name, step] of Object.entries(state.steps)) {
          const live = step.timeoutAt === undefined || Date.parse(step.timeoutAt) > now.getTime();
          const launch = (phase: 'run' | 'compensate', attempt: number) => {
            const ours = held.startedHere.delete(`${name}:${phase}:${attempt}`);
            if (!running.has(`${name}:${phase}`) && (ours || live)) run(name, attempt, phase);
          };
          if (step.status === 'RUNNING') launch('run', step.attempts);
          if (step.status === 'COMPENSATING' && step.timeoutAt !== undefined) launch('compensate', step.compensationAttempts);
        }

        let progressed = false;
        for (const action of work.actions) {
          if (action.kind !== 'timeout-step') continue;
          const key = `${action.step}:${action.phase === 'step' ? 'run' : 'compensate'}`;
          if (running.has(key)) continue; // our own effect enforces its timeout
          const error = `timeout after ${action.timeoutMs} ms`;
          const command: SagaCommand =
            action.phase === 'step'
              ? { type: 'FailStep', data: { step: action.step, attempt: action.attempt, error, at: now, jitter: this.random() } }
              : { type: 'FailStepCompensation', data: { step: action.step, attempt: action.attempt, error, at: now, jitter: this.random() } };
          await commitPlanned(version, (s) => decide(command, s));
          progressed = true;
          break;
        }
        if (progressed) continue;

        // Steps due, the next compensation, the end of a compensation: one transition.
        if (advance(state, now).events.length) {
          await commitPlanned(version, (s) => advance(s, now).events);
          continue;
        }

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
      // A terminal transition removed the pending-work row in its own commit.
      if (!TERMINAL.has(held.current.state.status)) {
        await releaseWork(this.pool, this.workerId, sagaId, releaseAt).catch(() => undefined);
      }
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
   * with the effect's own domain events in one transaction, together with the transitions that
   * outcome makes due at once (the next steps' StepStarted, the next compensation): see advance().
   * Stale outcomes change nothing.
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

    /** The outcome's events, then whatever it makes due at once (unless the worker is stopping). */
    const withFollowUps = (events: SagaEvent[], current: SagaState, at: Date): SagaEvent[] => {
      if (events.length === 0 || this.shutdown.signal.aborted) return events;
      let s = current;
      for (const e of events) s = evolve(s, e);
      return [...events, ...advance(s, at).events];
    };
    const commit = (events: SagaEvent[], effects: DomainEffects = {}) =>
      this.commitTransition({ sagaId, tenantId: held.tenantId, loaded: held.current, events, held, record: effects.record, commands: effects.commands });
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
              await commit(withFollowUps(events, current.state, at), outcome);
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
          const decided = decide(command, current.state);
          if (decided.length === 0) return true;
          const events = withFollowUps(decided, current.state, at);
          const hasEffects = f.record !== undefined || (f.commands?.length ?? 0) > 0;
          try {
            await commit(events, f);
          } catch (err) {
            if (isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || !hasEffects) throw err;
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
