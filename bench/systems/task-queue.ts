import { Metrics, WorkloadContext } from '../harness/types';

/**
 * W10's shape, the same for every system: `total` no-op jobs, enqueued in batches of `batchSize`
 * by `starters` concurrent enqueuers, consumed by `instances` consumers of `perInstance` jobs at
 * a time (8 × 16).
 */
export interface QueueShape {
  total: number;
  batchSize: number;
  instances: number;
  perInstance: number;
  starters: number;
}

/** A job's identity, carried in its payload: the phase (`warm` / `run`) and its index in it. */
export interface JobRef {
  phase: string;
  index: number;
}

/**
 * Consumers report each completion with its time (performance.now() of this process): when the
 * system acknowledged the job as done (BullMQ's `completed` event, after moveToFinished; the
 * platform's `complete` call answered 200; graphile-worker's `job:complete` event, see there).
 */
export type OnComplete = (job: JobRef, at: number) => void;

/** A job queue under test, its consumers running. */
export interface TaskQueueSystem {
  /** The settings the run used: printed with the figures. */
  readonly settings: Metrics;
  /** Enqueues jobs `first` … `first + count - 1` of `phase` in one call (one saga, one addBulk, one addJobs); resolves once durable. */
  enqueue(phase: string, batch: number, first: number, count: number): Promise<void>;
  /**
   * Where the system records when a job entered its queue later than the enqueue call returned
   * (the platform: a task is queued when its saga step starts), the time of each job of `phase`
   * on this process's performance.now() clock, read after the run (untimed).
   */
  queuedAt?(phase: string, total: number): Promise<Float64Array>;
  /**
   * After the last completion was reported: resolves with the time (performance.now()) by which
   * every completion of the phase was durable, for systems whose completion report precedes it.
   */
  settle?(): Promise<number>;
  /** Rejects when a consumer or the system fails (a job failed, a worker errored, a call was refused). */
  readonly failed: Promise<never>;
  /** Checks that the system did the work (e.g. every saga COMPLETED); throws if not. Untimed. */
  verify?(phase: string): Promise<Metrics | void>;
  close(): Promise<void>;
}

export type OpenTaskQueue = (ctx: WorkloadContext, shape: QueueShape, onComplete: OnComplete) => Promise<TaskQueueSystem>;

export const redisUrl = (): string => process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379';

/** The payload every system carries: `{ p: phase, i: index }` (the platform: the task's config). */
export const jobPayload = (phase: string, index: number) => ({ p: phase, i: index });

export function refOf(payload: unknown): JobRef {
  const p = payload as { p?: unknown; i?: unknown } | null;
  if (!p || typeof p.p !== 'string' || typeof p.i !== 'number') throw new Error(`W10: job payload without {p, i}: ${JSON.stringify(payload)}`);
  return { phase: p.p, index: p.i };
}

/** A promise that rejects with the first failure reported (never unhandled) and the function to report one. */
export function failureSignal(): { failed: Promise<never>; fail: (err: Error) => void; error: () => Error | undefined } {
  let first: Error | undefined;
  let reject!: (err: Error) => void;
  const failed = new Promise<never>((_, r) => (reject = r));
  failed.catch(() => undefined);
  return {
    failed,
    fail: (err) => {
      if (first) return;
      first = err;
      reject(err);
    },
    error: () => first,
  };
}
