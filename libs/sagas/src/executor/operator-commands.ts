import { setTimeout as sleep } from 'timers/promises';
import { isEventStoreError } from '@app/event-store';
import { SagaCommand } from '../core/saga.commands';
import { decide, foldSagaEvents } from '../core/saga.decider';
import { advance } from '../core/advance';
import { SagaError } from '../core/saga.errors';
import { SagaState } from '../core/saga.state';
import { sagaStreamId } from '../core/saga.types';
import { TransitionCommitter } from './commit';
import { ExecutorContext, Transition } from './executor.types';
import { loadSaga } from './load';
import { SagaWakeups } from './wakeups';

/** An operator's commands on a saga: retry or skip a stuck compensation, cancel. */
export class OperatorCommands {
  constructor(
    private readonly ctx: ExecutorContext,
    private readonly committer: TransitionCommitter,
    private readonly wakeups: SagaWakeups,
    /** Wakes workers here and elsewhere: a saga has work again. */
    private readonly newWork: () => void,
  ) {}

  /** Retry the stuck compensation of a COMPENSATION_FAILED saga (else SAGA_NOT_STUCK). */
  retryCompensation(sagaId: string, tenantId: string, actor: string, reason?: string): Promise<SagaState> {
    return this.run(sagaId, tenantId, { type: 'RetryCompensation', data: { actor, reason, at: new Date() } });
  }

  /** Mark the stuck compensation SKIPPED and go on compensating. */
  skipCompensation(sagaId: string, tenantId: string, step: string, actor: string, reason: string): Promise<SagaState> {
    return this.run(sagaId, tenantId, { type: 'SkipCompensation', data: { step, actor, reason, at: new Date() } });
  }

  /** Stop a SCHEDULED, RUNNING or SUSPENDED saga and compensate what it completed. */
  cancel(sagaId: string, tenantId: string, actor: string, reason: string): Promise<SagaState> {
    return this.run(sagaId, tenantId, { type: 'CancelSaga', data: { actor, reason, at: new Date() } });
  }

  /** Resume a SUSPENDED saga: its failed steps run again with fresh attempts (`config`: the suspended task's). */
  resume(sagaId: string, tenantId: string, actor: string, reason: string, config?: unknown): Promise<SagaState> {
    return this.run(sagaId, tenantId, { type: 'ResumeSaga', data: { actor, reason, ...(config !== undefined ? { config } : {}), at: new Date() } });
  }

  /** Compensate a SUSPENDED saga in reverse order. */
  compensate(sagaId: string, tenantId: string, actor: string, reason: string): Promise<SagaState> {
    return this.run(sagaId, tenantId, { type: 'CompensateSaga', data: { actor, reason, at: new Date() } });
  }

  /** Deliver a signal (kept until a `wait` step of its name takes it; the same signalId is one delivery). */
  signal(sagaId: string, tenantId: string, actor: string, signal: { name: string; signalId: string; payload?: unknown }): Promise<SagaState> {
    return this.run(sagaId, tenantId, { type: 'ReceiveSignal', data: { ...signal, at: new Date() } }, actor);
  }

  /**
   * The saga's lock, then its state, the decision and the append, in one transaction. Workers take
   * the same lock before their version check, so a saga that moves on every few milliseconds
   * cannot overtake the operator between the read and the append (the worker's next transition
   * conflicts instead, and it reloads).
   */
  private async run(sagaId: string, tenantId: string, command: SagaCommand, actorOf?: string): Promise<SagaState> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { t, result } = await this.ctx.store.transaction(async (client) => {
          await this.ctx.store.lockStreams([sagaStreamId(sagaId)], { tx: client });
          const loaded = await loadSaga(this.ctx.store, sagaId, client);
          if (!loaded || loaded.state.tenantId !== tenantId) throw new SagaError('SAGA_NOT_FOUND', `saga ${sagaId} not found`);
          const actor = actorOf ?? (command.data as { actor?: string }).actor;
          const decided = decide(command, loaded.state);
          // What the decision makes due at once commits with it (see advance): a cancel fails the
          // saga's running agent tasks (their queue rows are cancelled with it, so a completion
          // racing the cancel gets TASK_CANCELLED), a signal completes the wait step taking it, a
          // resume starts the steps again.
          const at = new Date(command.data.at);
          const events = decided.length ? [...decided, ...advance(foldSagaEvents(decided, loaded.state), at).events] : decided;
          // Due at once for a worker: steps this commit started must have their effects run.
          const t: Transition = { sagaId, tenantId, loaded, events, metadata: { actor }, dueNow: events.length > 0 };
          return { t, result: await this.committer.write(client, t) };
        });
        if (t.events.length) {
          this.ctx.store.notifyAppended();
          this.committer.settle(t, result);
        }
        this.newWork();
        await this.wakeups.notify();
        return result.state;
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || attempt >= 10) throw err;
        this.ctx.log('operator command lost a version race; deciding again', { sagaId, command: command.type, attempt });
        // A worker's transition took the version first. A saga whose steps commit back to back
        // could win every immediate retry: wait a short, growing, random time before deciding again.
        await sleep(5 + this.ctx.random() * 20 * (attempt + 1), undefined, { ref: false });
      }
    }
  }
}
