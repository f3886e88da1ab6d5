import { SpanKind, trace } from '@opentelemetry/api';
import { PoolClient } from 'pg';
import { setTimeout as sleep } from 'timers/promises';
import { isEventStoreError } from '@app/event-store';
import { advance } from '../core/advance';
import { SagaCommand } from '../core/saga.commands';
import { decide, foldSagaEvents } from '../core/saga.decider';
import { SagaError } from '../core/saga.errors';
import { SagaEvent } from '../core/saga.events';
import { SagaState } from '../core/saga.state';
import { isAgentStep, sagaStreamId } from '../core/saga.types';
import { ExternalTaskSpec, SagaDefinition } from '../definitions/saga-definition';
import { DomainCommandEnvelope } from '../domain-commands/domain-commands';
import { TransitionCommitter } from './commit';
import { ExecutorContext, Transition } from './executor.types';
import { loadSaga } from './load';
import { contextOf, sagaTracer, traceparentOf } from './tracing';

/**
 * External steps (StepPlan.external): their work is done by agents that take it from a queue.
 * The queue row of an attempt is written in the transaction of the StepStarted that begins it,
 * and leaves the queue in the transaction of the outcome that ends it, whoever decided it (an
 * agent's completion, a TTL expiry, a cancel).
 */

/** A queued attempt of an external step. */
export interface ExternalTask extends Omit<ExternalTaskSpec, 'outcomeCommands'> {
  tenantId: string;
  sagaId: string;
  step: string;
  attempt: number;
  correlationId?: string;
  /** W3C trace context for the agent (the poll response's): the attempt's span in the saga's trace. */
  traceparent?: string;
}

/** How an attempt left the queue. */
export type ExternalSettlementState = 'DONE' | 'FAILED' | 'CANCELLED' | 'EXPIRED';

export interface ExternalWorkChanges {
  enqueue: ExternalTask[];
  settle: { sagaId: string; step: string; attempt: number; state: ExternalSettlementState }[];
}

/** The queue, as the executor writes it (libs/agents implements it). */
export interface ExternalWorkQueue {
  /** Inside the transition's transaction, after its events. */
  apply(tx: PoolClient, changes: ExternalWorkChanges): Promise<void>;
}

/** Whether `step` is queued for an agent (a `wait` step is external too, but has no queue). */
function isExternal(state: SagaState, step: string): boolean {
  return isAgentStep(state.plan.steps.find((p) => p.name === step));
}

/** Whether the transition starts or ends an attempt of an external step. */
export function touchesExternalSteps(t: Transition): boolean {
  const started = t.events.find((e) => e.type === 'SagaStarted');
  const plan = started?.type === 'SagaStarted' ? started.data.plan : t.loaded.state.plan;
  const external = new Set(plan?.steps.filter(isAgentStep).map((p) => p.name));
  if (external.size === 0) return false;
  return t.events.some(
    (e) => (e.type === 'StepStarted' || e.type === 'StepSucceeded' || e.type === 'StepFailed') && external.has(e.data.step),
  );
}


/** The queue changes a transition to `after` implies. */
export function externalWorkChanges(t: Transition, after: SagaState, definition: SagaDefinition): ExternalWorkChanges {
  const changes: ExternalWorkChanges = { enqueue: [], settle: [] };
  for (const e of t.events) {
    if (e.type !== 'StepStarted' && e.type !== 'StepSucceeded' && e.type !== 'StepFailed') continue;
    if (!isExternal(after, e.data.step)) continue;
    if (e.type === 'StepStarted') {
      if (!definition.externalTask) throw new Error(`saga type ${after.sagaType} has external steps but no externalTask()`);
      const { outcomeCommands: _, ...spec } = definition.externalTask(after, e.data.step, e.data.attempt);
      const task: ExternalTask = {
        ...spec,
        tenantId: t.tenantId,
        sagaId: t.sagaId,
        step: e.data.step,
        attempt: e.data.attempt,
        ...(after.correlationId ? { correlationId: after.correlationId } : {}),
      };
      const traceparent = agentTaskTraceparent(t, task, after.sagaType);
      changes.enqueue.push(traceparent ? { ...task, traceparent } : task);
    } else {
      const code = e.type === 'StepFailed' ? e.data.code : undefined;
      const state: ExternalSettlementState =
        e.type === 'StepSucceeded' ? 'DONE' : code === 'CANCELLED' ? 'CANCELLED' : code === 'EXPIRED' ? 'EXPIRED' : 'FAILED';
      changes.settle.push({ sagaId: t.sagaId, step: e.data.step, attempt: e.data.attempt, state });
    }
  }
  return changes;
}

/**
 * The attempt's span (a producer: the agent that takes the task continues the trace), in the
 * saga's trace; undefined when the saga has none. Its work happens in the agent, not here: the span
 * marks the hand-over and is ended at once.
 */
function agentTaskTraceparent(t: Transition, task: ExternalTask, sagaType: string): string | undefined {
  const parent = contextOf(t.metadata?.traceparent ?? t.held?.traceparent ?? t.loaded.traceparent);
  if (!parent) return undefined;
  const span = sagaTracer.startSpan(`saga.agent_task ${task.step}`, { kind: SpanKind.PRODUCER }, parent);
  if (span.isRecording()) {
    span.setAttributes({
      'saga.id': task.sagaId,
      'saga.type': sagaType,
      'saga.tenant_id': task.tenantId,
      'saga.step': task.step,
      'saga.step.attempt': task.attempt,
      'saga.agent_task.id': task.taskId,
      ...(task.capability ? { 'saga.agent_task.capability': task.capability } : {}),
    });
  }
  span.end();
  return traceparentOf(trace.setSpan(parent, span));
}

/** An outcome of an external step's attempt, reported by whoever decided it. */
export interface ExternalOutcome {
  sagaId: string;
  tenantId: string;
  step: string;
  attempt: number;
  result: { output: unknown } | { error: string; code?: string; retryable: boolean };
  /**
   * Runs first in the transaction, after the saga's lock: throws to refuse the report (fencing:
   * the reporter no longer holds the task). Its writes commit with the outcome.
   */
  guard?: (tx: PoolClient) => Promise<void>;
  /** Who reported it (event metadata). */
  actor: string;
}

interface Pending {
  outcome: ExternalOutcome;
  resolve: (r: 'recorded' | 'stale') => void;
  reject: (err: unknown) => void;
}

/** Reports of one saga recorded together at most (a wide saga's agents complete at once). */
const MAX_BATCH = 64;

/**
 * Records outcomes of external steps: the saga's decisions, the tasks' domain events, whatever the
 * outcomes make due at once (the next steps), the queue changes and the pending-work row, in one
 * transaction under the saga's lock. The reports of one saga that arrive while one of its
 * transactions runs wait in this process (holding no connection) and are recorded together in the
 * next: a saga whose fifty agent tasks complete at once costs a few commits, not fifty connections
 * queued on its lock. `stale` when the saga no longer waits for that attempt.
 */
export class ExternalOutcomes {
  private readonly queues = new Map<string, Pending[]>();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly committer: TransitionCommitter,
    private readonly newWork: () => void,
  ) {}

  report(o: ExternalOutcome): Promise<'recorded' | 'stale'> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(o.sagaId);
      if (queue) {
        queue.push({ outcome: o, resolve, reject });
        return;
      }
      const fresh: Pending[] = [{ outcome: o, resolve, reject }];
      this.queues.set(o.sagaId, fresh);
      void this.drain(o.sagaId, fresh);
    });
  }

  /** Records the saga's waiting reports, a batch per transaction, until none is left. */
  private async drain(sagaId: string, queue: Pending[]): Promise<void> {
    try {
      while (queue.length) {
        const batch = queue.splice(0, MAX_BATCH);
        try {
          const outcomes = await this.recordBatch(sagaId, batch);
          batch.forEach((p, i) => {
            const r = outcomes[i];
            if (r instanceof Error) p.reject(r);
            else p.resolve(r);
          });
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.queues.delete(sagaId);
    }
  }

  private async recordBatch(sagaId: string, batch: Pending[]): Promise<('recorded' | 'stale' | Error)[]> {
    const tenantId = batch[0].outcome.tenantId;
    for (let round = 0; ; round++) {
      try {
        const done = await this.ctx.store.transaction(async (client) => {
          await this.ctx.store.lockStreams([sagaStreamId(sagaId)], { tx: client });
          const loaded = await loadSaga(this.ctx.store, sagaId, client);
          if (!loaded || loaded.state.tenantId !== tenantId) throw new SagaError('SAGA_NOT_FOUND', `saga ${sagaId} not found`);
          const at = new Date();
          const definition = this.ctx.definition(loaded.state.sagaType);
          let state = loaded.state;
          const events: SagaEvent[] = [];
          const commands: DomainCommandEnvelope[] = [];
          const actors = new Set<string>();
          const outcomes: ('recorded' | 'stale' | Error)[] = [];
          for (const { outcome: o } of batch) {
            if (o.tenantId !== tenantId) {
              outcomes.push(new SagaError('SAGA_NOT_FOUND', `saga ${sagaId} not found`));
              continue;
            }
            const decided = decide(outcomeCommand(o, at, this.ctx.random()), state);
            if (decided.length === 0) {
              outcomes.push('stale');
              continue;
            }
            if (o.guard) {
              try {
                await o.guard(client);
              } catch (err) {
                // A refusal (fencing) leaves the transaction usable; a database error does not.
                if ((err as { severity?: unknown }).severity !== undefined) throw err;
                outcomes.push(err as Error);
                continue;
              }
            }
            const spec = definition.externalTask?.(state, o.step, o.attempt);
            commands.push(...(spec?.outcomeCommands?.('output' in o.result ? { output: o.result.output } : { error: o.result.error }, at.toISOString()) ?? []));
            state = foldSagaEvents(decided, state);
            events.push(...decided);
            actors.add(o.actor);
            outcomes.push('recorded');
          }
          if (events.length === 0) return { outcomes };
          events.push(...advance(state, at).events);
          const t: Transition = {
            sagaId,
            tenantId,
            loaded,
            events,
            dueNow: true,
            metadata: { actor: [...actors].join(', ').slice(0, 500) },
            ...(commands.length ? { commands } : {}),
          };
          return { outcomes, t, result: await this.committer.write(client, t) };
        });
        if (done.t && done.result) {
          this.ctx.store.notifyAppended();
          this.committer.settle(done.t, done.result);
          this.newWork();
        }
        return done.outcomes;
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_VERSION') || round >= 10) throw err;
        await sleep(2 + this.ctx.random() * 10 * (round + 1), undefined, { ref: false });
      }
    }
  }
}

/** The saga command an outcome reports. */
function outcomeCommand(o: ExternalOutcome, at: Date, jitter: number): SagaCommand {
  if ('output' in o.result) return { type: 'SucceedStep', data: { step: o.step, attempt: o.attempt, output: o.result.output, at } };
  const { error, retryable, code } = o.result;
  return { type: 'FailStep', data: { step: o.step, attempt: o.attempt, error, at, jitter, retryable, ...(code ? { code } : {}) } };
}
