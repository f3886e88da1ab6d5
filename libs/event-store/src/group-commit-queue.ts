/** A request waiting in a group commit: what to write and who waits for the outcome. */
export interface Pending<I, R> {
  readonly input: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export interface GroupCommitLimits {
  /** Requests written together at most. */
  maxSize: number;
  /** Groups being written at once (each on its own connection). */
  maxInFlight: number;
}

/**
 * The queue of a group commit: requests that arrive while others are being written wait, and are
 * written together by `flush` (one statement, one commit) as soon as fewer than `maxInFlight`
 * groups are running. `flush` settles every request of its group, and may hand some back with
 * `retry` (they join the next group). Used by the event store's appends and the saga executor's
 * transitions.
 */
export class GroupCommitQueue<I, R> {
  private readonly waiting: Pending<I, R>[] = [];
  private flushing = 0;

  constructor(
    private readonly limits: GroupCommitLimits,
    private readonly flush: (group: Pending<I, R>[]) => Promise<void>,
  ) {}

  /** Queues `input` for the next group; resolves with its own outcome. */
  submit(input: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.pump();
    });
  }

  /** Requests of a group that were not written (their group failed for another's sake): write them again. */
  retry(requests: Pending<I, R>[]): void {
    if (!requests.length) return;
    this.waiting.push(...requests);
    this.pump();
  }

  /** Starts group commits while requests wait and fewer than `maxInFlight` are running. */
  private pump(): void {
    while (this.waiting.length && this.flushing < this.limits.maxInFlight) {
      const group = this.waiting.splice(0, this.limits.maxSize);
      this.flushing++;
      // A flush settles each request itself; should it throw instead, nobody waits forever.
      void this.flush(group)
        .catch((err: unknown) => group.forEach((p) => p.reject(err)))
        .finally(() => {
          this.flushing--;
          this.pump();
        });
    }
  }
}

/**
 * Whether a failed query left its connection unusable, so that it is released with the error
 * (`client.release(true)`) and the pool opens a new one. An error PostgreSQL answered carries a
 * SQLSTATE `code`, and the store's typed errors map such answers: the connection is fine, and
 * discarding it would make the next writer pay for a new one.
 */
export function isBrokenConnection(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === undefined && !(err instanceof Error && err.name === 'EventStoreError');
}
