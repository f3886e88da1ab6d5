import { Context, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { PoolClient } from 'pg';
import { inTransaction } from '@app/database';
import { AppendResult, GroupCommitQueue, Pending, StreamAppend, isBrokenConnection, isEventStoreError } from '@app/event-store';
import { sagaStreamId } from '../core/saga.types';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { TransitionCommitter } from './commit';
import { Committed, ExecutorContext, Transition } from './executor.types';
import { appendWithWorkChanges } from './postgres/saga-work';
import { committedTransition, sagaAppend, stateAfter, workChanges } from './transition';
import { SagaWakeups } from './wakeups';
import { touchesExternalSteps } from './external-work';

type Member = Pending<Transition, Committed>;

/**
 * Commits saga transitions. A worker's transitions without a `record` function and unkeyed starts
 * go through the group commit (many sagas, one statement); the rest commit on their own.
 */
export class SagaGroupCommit {
  private readonly queue: GroupCommitQueue<Transition, Committed>;
  private readonly maxSize: number;
  /** The trace each queued transition was committed in (only while tracing: see flushIn). */
  private readonly traces = new WeakMap<Transition, Context>();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly committer: TransitionCommitter,
    private readonly wakeups: SagaWakeups,
  ) {
    const g = ctx.options.groupCommit;
    this.maxSize = g?.maxSize ?? 64;
    this.queue = new GroupCommitQueue({ maxSize: this.maxSize, maxInFlight: g?.maxInFlight ?? 4 }, (group) => this.flushIn(group));
  }

  commit(t: Transition): Promise<Committed> {
    if (t.events.length === 0 && !t.record && !t.commands?.length) return Promise.resolve({ ...t.loaded, recorded: [] });
    // Transitions that start or end agent tasks write the queue too: on their own.
    if (t.record || (!t.held && !t.start) || this.maxSize <= 1 || touchesExternalSteps(t)) return this.committer.commitAlone(t);
    const active = context.active();
    if (trace.getSpanContext(active)) this.traces.set(t, active);
    return this.queue.submit(t);
  }

  /**
   * A flush starts in whatever context queued its first member or ended the previous flush: its
   * append is put in the first member's trace instead (or in none), never in an unrelated one.
   */
  private flushIn(group: Member[]): Promise<void> {
    return context.with(this.traces.get(group[0].input) ?? ROOT_CONTEXT, () => this.flush(group));
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
  private async flush(group: Member[]): Promise<void> {
    const alone = new Set<Member>();
    const again: Member[] = [];
    let members = group;
    const client = await this.ctx.pool.connect().catch((err) => {
      for (const m of group) m.reject(err);
      return undefined;
    });
    if (!client) return;
    const hook = this.ctx.options.inTransaction;
    const domain = new Map<Member, StreamAppend[]>();
    let broken = false;
    try {
      const write = async (tx: PoolClient): Promise<Committed[]> => {
        members = await this.prepareDomainCommands(tx, members, domain, alone);
        if (members.length === 0) return [];
        const appends: StreamAppend[] = [];
        const sagaIndex: number[] = [];
        const states = members.map((m) => {
          appends.push(...(domain.get(m) ?? []));
          sagaIndex.push(appends.length);
          appends.push(sagaAppend(m.input, this.ctx.workerId));
          return stateAfter(m.input);
        });
        const changes = workChanges(
          members.map((m, i) => ({ t: m.input, state: states[i] })),
          this.ctx.leaseMs,
        );
        const results: AppendResult[] = await appendWithWorkChanges(
          tx,
          this.ctx.store,
          appends,
          changes,
          members.map((m) => sagaStreamId(m.input.sagaId)),
        );
        const done = members.map((m, i) => committedTransition(m.input, appends[sagaIndex[i]], results[sagaIndex[i]], states[i]));
        if (hook) for (const c of done) await hook(tx, c.recorded);
        return done;
      };
      let done: Committed[];
      try {
        done = await (hook ? inTransaction(client, write) : write(client));
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION')) throw err;
        // Who lost? Its saga stream: that member's decision is stale. A domain stream: the
        // members writing it commit on their own (load, decide, retry). The rest group again.
        const streamId = err.details.streamId as string;
        for (const m of members) {
          if (sagaStreamId(m.input.sagaId) === streamId) m.reject(err);
          else if (domain.get(m)?.some((a) => a.streamId === streamId)) alone.add(m);
          else again.push(m);
        }
        members = [];
        return;
      }
      if (members.length === 0) return;
      // Committed: from here on no member may be tried again.
      const committed = members;
      members = [];
      this.ctx.store.notifyAppended();
      if (committed.some((m) => m.input.start)) this.wakeups.notifySoon();
      committed.forEach((m, i) => m.resolve(this.committer.settle(m.input, done[i])));
    } catch (err) {
      broken = isBrokenConnection(err);
      // Whatever failed (a connection, a duplicate id), each member is tried on its own.
      for (const m of members) alone.add(m);
    } finally {
      client.release(broken);
      this.queue.retry(again);
      for (const m of alone) this.committer.commitAlone(m.input).then(m.resolve, m.reject);
    }
  }

  /**
   * Decides the members' declared domain commands, one read per dispatcher: their appends go into
   * `domain`; a member whose commands are refused goes `alone`. Returns the members left.
   */
  private async prepareDomainCommands(tx: PoolClient, members: Member[], domain: Map<Member, StreamAppend[]>, alone: Set<Member>): Promise<Member[]> {
    const withCommands = members.filter((m) => m.input.commands?.length);
    if (!withCommands.length) return members;
    const byDispatcher = new Map<DomainCommandDispatcher, Member[]>();
    for (const m of withCommands) {
      const d = this.committer.dispatcherOf(m.input);
      byDispatcher.set(d, [...(byDispatcher.get(d) ?? []), m]);
    }
    for (const [dispatcher, ms] of byDispatcher) {
      const prepared = dispatcher.prepare ? await dispatcher.prepare(ms.map((m) => m.input.commands!), tx) : undefined;
      ms.forEach((m, i) => {
        const r = prepared?.[i];
        if (!r || r instanceof Error) alone.add(m);
        else domain.set(m, r.appends);
      });
    }
    return members.filter((m) => !alone.has(m));
  }
}
