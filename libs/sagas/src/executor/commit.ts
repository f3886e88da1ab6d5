import { PoolClient } from 'pg';
import { RecordedEvent } from '@app/event-store';
import { SagaState } from '../core/saga.state';
import { sagaStreamId } from '../core/saga.types';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { Committed, ExecutorContext, Transition } from './executor.types';
import { applyWorkChanges } from './postgres/saga-work';
import { committedTransition, effectsStarted, sagaAppend, stateAfter, workChanges } from './transition';
import { SAGA_WORK_CHANNEL } from './wakeups';
import { externalWorkChanges } from './external-work';

/**
 * Commits one saga transition in a transaction of its own (or of the caller's): its domain
 * effects, the saga's events (expected version = the loaded one) and the pending-work change they
 * imply, together; then settles it (see settle). The group commit falls back to it.
 */
export class TransitionCommitter {
  constructor(private readonly ctx: ExecutorContext) {}

  /** One transition in its own transaction. */
  async commitAlone(t: Transition): Promise<Committed> {
    const result = await this.ctx.store.transaction((client) => this.write(client, t));
    if (!t.events.length) return result;
    this.ctx.store.notifyAppended();
    return this.settle(t, result);
  }

  /**
   * Writes a transition inside `client`'s transaction: the saga stream's lock first (every writer
   * of a saga stream takes it: see EventStore.lockStreams), then the domain effects, the saga's events and
   * the pending-work change.
   */
  async write(client: PoolClient, t: Transition): Promise<Committed> {
    await this.ctx.store.lockStreams([sagaStreamId(t.sagaId)], { tx: client });
    if (t.record) await t.record(client);
    if (t.commands?.length) {
      const dispatcher = this.dispatcherOf(t);
      for (const env of t.commands) await dispatcher.dispatch({ ...env, tx: client });
    }
    if (!t.events.length) return { ...t.loaded, recorded: [] };
    const append = sagaAppend(t, this.ctx.workerId);
    const state = stateAfter(t);
    const changes = workChanges([{ t, state }], this.ctx.leaseMs);
    // A conflict on the saga stream means another decision won: the whole transaction is retried
    // from a fresh load, so no savepoint is needed.
    const appended = await this.ctx.store.appendToStream(append.streamId, append.events, { ...append, tx: client, savepoint: false });
    const result = committedTransition(t, append, appended, state);
    await applyWorkChanges(client, { ...changes, notify: t.start || t.dueNow ? SAGA_WORK_CHANNEL : undefined });
    const external = externalWorkChanges(t, state, this.ctx.definition(state.sagaType));
    if (external.enqueue.length || external.settle.length) {
      if (!this.ctx.options.externalWork) throw new Error('this executor has no queue for external steps (agent tasks)');
      await this.ctx.options.externalWork.apply(client, external);
    }
    if (this.ctx.options.inTransaction) await this.ctx.options.inTransaction(client, result.recorded);
    return result;
  }

  /** After the commit: the held state moves on, hooks run. */
  settle(t: Transition, result: Committed): Committed {
    if (t.held && result.version > t.held.current.version) {
      t.held.current = { state: result.state, version: result.version };
      for (const key of effectsStarted(t)) t.held.startedHere.add(key);
    }
    this.afterCommit(result.recorded, result.state);
    return result;
  }

  /** The dispatcher of the saga's declared domain commands. */
  dispatcherOf(t: Transition): DomainCommandDispatcher {
    const dispatcher = this.ctx.definition(t.loaded.state.sagaType ?? '').commands;
    if (!dispatcher) throw new Error(`saga type ${t.loaded.state.sagaType} declares domain commands but has no dispatcher`);
    return dispatcher;
  }

  private afterCommit(recorded: RecordedEvent[], state: SagaState): void {
    if (!recorded.length) return;
    try {
      this.ctx.options.afterCommit?.(recorded, state);
    } catch (err) {
      // Metrics and live updates must not undo a commit (nor make it look failed).
      this.ctx.log('afterCommit hook failed', { sagaId: state.sagaId, error: (err as Error).message });
    }
  }
}
