import { Pool, PoolClient } from 'pg';
import { EventMetadata, EventStore, RecordedEvent } from '@app/event-store';
import { SagaEvent } from '../core/saga.events';
import { SagaState } from '../core/saga.state';
import { DomainEffects, SagaDefinition } from '../definitions/saga-definition';
import type { ExternalWorkQueue } from './external-work';

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
  /** The queue of external steps (agent tasks), written in the transitions that start or end them. */
  externalWork?: ExternalWorkQueue;
}

export interface GroupCommitOptions {
  /** Transitions in one group commit at most (1: every transition commits on its own). */
  maxSize?: number;
  /** Group commits running at once (each on its own connection). */
  maxInFlight?: number;
}

/** What every part of the executor shares: its connections, its identity and its settings. */
export interface ExecutorContext {
  readonly pool: Pool;
  readonly store: EventStore;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly random: () => number;
  readonly options: SagaExecutorOptions;
  /** The saga type's definition (SagaError INVALID_COMMAND when unknown). */
  definition(type: string): SagaDefinition;
  log(message: string, fields?: Record<string, unknown>): void;
}

/** A saga's state folded from its stream, and the stream's version. */
export interface Loaded {
  state: SagaState;
  version: number;
  /** The saga's trace (its SagaStarted metadata), when it was started with tracing on. */
  traceparent?: string;
}

/**
 * A saga held by this worker under its lease (see SagaRunner.process). While the lease holds, this
 * worker is the saga's only writer in the normal case, so its state is kept here instead of being
 * read back after every commit; an operator or a worker that took over after an expired lease
 * shows up as a WRONG_EXPECTED_VERSION conflict, after which the state is loaded again.
 */
export interface HeldSaga {
  sagaId: string;
  tenantId: string;
  /** The state at the last commit of this worker (or the last load). */
  current: Loaded;
  /** The saga's trace: each step attempt's span is a child of it (see tracing.ts). */
  traceparent?: string;
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
export interface Transition extends DomainEffects {
  sagaId: string;
  tenantId: string;
  loaded: Loaded;
  events: SagaEvent[];
  metadata?: Partial<EventMetadata>;
  /** The saga is held by this worker (see HeldSaga). */
  held?: HeldSaga;
  /** A new saga: other workers are told there is work. */
  start?: boolean;
  /** Reported from outside the saga's holder (an agent's outcome): due at once, workers told. */
  dueNow?: boolean;
}

/** A committed transition: the saga's state and version after it, and its events as recorded. */
export type Committed = Loaded & { recorded: RecordedEvent[] };
