import { setTimeout as sleep } from 'timers/promises';
import { context, Span } from '@opentelemetry/api';
import { isEventStoreError } from '@app/event-store';
import { advance } from '../core/advance';
import { nextWork } from '../core/next-work';
import { SagaCommand, failAttemptCommand } from '../core/saga.commands';
import { decide, foldSagaEvents } from '../core/saga.decider';
import { SagaEvent } from '../core/saga.events';
import { SagaState, isTerminalSagaStatus } from '../core/saga.state';
import { DomainEffects, StepContext, StepFailure, StepOutcome } from '../definitions/saga-definition';
import { Committed, ExecutorContext, HeldSaga, Loaded, Transition } from './executor.types';
import { loadSaga } from './load';
import { sagaStreamId } from '../core/saga.types';
import { releaseWork } from './postgres/saga-work';
import { contextOf, failSpan, inSpan, withContext } from './tracing';

type Phase = 'run' | 'compensate';

/** How often a saga with effects in flight checks whether an operator stopped it meanwhile. */
const INTERRUPT_CHECK_MS = 500;

/** The failure codes the platform decides (the step's `errorCode`). */
const PLATFORM_ERROR_CODES = new Set(['TIMEOUT', 'CIRCUIT_OPEN', 'CANCELLED']);

/**
 * Drives the sagas this worker claimed: starts due steps, runs their effects (a step or a
 * compensation attempt, under its timeout and the worker's shutdown signal), records their
 * outcomes, compensates in reverse order, and gives each saga back with its next due time.
 */
export class SagaRunner {
  constructor(
    private readonly ctx: ExecutorContext,
    private readonly commit: (t: Transition) => Promise<Committed>,
    /** Aborted when the worker stops (a fresh signal after a restart). */
    private readonly shutdownSignal: () => AbortSignal,
  ) {}

  /**
   * Drives one claimed saga as far as it can go now: starts due steps, runs their effects
   * (in parallel up to maxParallel), records outcomes, compensates in reverse order, and gives
   * the saga back with its next due time when it has to wait. `preloaded`: its state as read at
   * the claim.
   */
  async process(sagaId: string, preloaded?: Loaded): Promise<void> {
    const { pool, workerId, leaseMs } = this.ctx;
    const running = new Map<string, Promise<void>>();
    // Aborts an effect when the saga stops running under it (an operator's cancel or compensate).
    const interrupts = new Map<string, AbortController>();
    const claimedAt = Date.now();
    const first = preloaded ?? (await loadSaga(this.ctx.store, sagaId));
    let releaseAt: Date | string = new Date(Date.now() + leaseMs);
    if (!first) {
      await releaseWork(pool, workerId, sagaId, releaseAt).catch(() => undefined);
      return;
    }
    const held: HeldSaga = {
      sagaId,
      tenantId: first.state.tenantId,
      current: first,
      traceparent: first.traceparent,
      queue: Promise.resolve(),
      dueAtMs: claimedAt,
      startedHere: new Set(),
    };
    const tenantId = held.tenantId;
    const run = (step: string, attempt: number, phase: Phase) => {
      const key = `${step}:${phase}`;
      const interrupt = new AbortController();
      interrupts.set(key, interrupt);
      running.set(
        key,
        this.runEffect(held, step, attempt, phase, interrupt.signal).finally(() => {
          running.delete(key);
          interrupts.delete(key);
        }),
      );
    };
    let lastCheck = Date.now();
    /**
     * While effects run, another process may have moved the saga on (an operator cancelled or
     * compensated it): read its stream head every INTERRUPT_CHECK_MS and, when the saga stopped
     * running, abort its running steps (they fail CANCELLED and compensation starts at once).
     */
    const checkInterrupted = async () => {
      if (Date.now() - lastCheck < INTERRUPT_CHECK_MS) return;
      lastCheck = Date.now();
      const head = await this.ctx.store.streamHead(sagaStreamId(sagaId)).catch(() => undefined);
      if (!head || head.version <= held.current.version) return;
      const fresh = await loadSaga(this.ctx.store, sagaId);
      if (!fresh || fresh.version <= held.current.version) return;
      await serialized(held, async () => {
        if (fresh.version > held.current.version) held.current = fresh;
      });
      if (held.current.state.status !== 'COMPENSATING') return;
      for (const [key, interrupt] of interrupts) {
        if (!key.endsWith(':run')) continue;
        interrupt.abort(new StepFailure(`cancelled: the saga is ${held.current.state.status.toLowerCase()}`, false, 'CANCELLED'));
      }
    };
    const sagaTrace = contextOf(held.traceparent);
    /**
     * Commits the events `decideAt` returns, in the saga's commit queue, unless another transition
     * (an effect's outcome) committed since `version`, the state this decision was planned on: then
     * undefined, and the caller plans again.
     */
    const commitPlanned = (version: number, decideAt: (state: SagaState) => SagaEvent[]) =>
      // In the saga's trace: its append is part of it.
      withContext(sagaTrace, () =>
        serialized(held, async () => {
          if (held.current.version !== version) return undefined;
          return this.commit({ sagaId, tenantId, loaded: held.current, events: decideAt(held.current.state), held });
        }),
      );
    try {
      while (!this.shutdownSignal().aborted) {
        const { state, version } = held.current;
        if (isTerminalSagaStatus(state.status)) return;
        const now = new Date();
        const work = nextWork(state, now);

        // Effects started in the saga's events but not running here: started by our last
        // transition (a step's outcome starts the next ones in the same commit), or in flight at
        // a worker that died (same attempt again: effects are idempotent). Timed out ones are not
        // resumed: their timeout is decided below.
        for (const [name, step] of Object.entries(state.steps)) {
          // An external step's work is done by an agent; its outcome arrives through the queue.
          if (state.plan.steps.find((p) => p.name === name)?.external) continue;
          const live = step.timeoutAt === undefined || Date.parse(step.timeoutAt) > now.getTime();
          const launch = (phase: Phase, attempt: number) => {
            const ours = held.startedHere.delete(`${name}:${phase}:${attempt}`);
            if (!running.has(`${name}:${phase}`) && (ours || live)) run(name, attempt, phase);
          };
          if (step.status === 'RUNNING') launch('run', step.attempts);
          if (step.status === 'COMPENSATING' && step.timeoutAt !== undefined) launch('compensate', step.compensationAttempts);
        }

        let progressed = false;
        for (const action of work.actions) {
          if (action.kind !== 'timeout-step') continue;
          const phase: Phase = action.phase === 'step' ? 'run' : 'compensate';
          if (running.has(`${action.step}:${phase}`)) continue; // our own effect enforces its timeout
          const error = `timeout after ${action.timeoutMs} ms`;
          const command = failAttemptCommand(phase, { step: action.step, attempt: action.attempt, error, code: 'TIMEOUT', at: now, jitter: this.ctx.random() });
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
          const due = work.nextDueAt ? Math.max(0, Date.parse(work.nextDueAt) - Date.now()) : leaseMs;
          // Our effects' outcomes update `held` as they commit; only an operator elsewhere can
          // change the saga under them (checkInterrupted).
          await Promise.race([...running.values(), sleep(Math.min(due, leaseMs, INTERRUPT_CHECK_MS), undefined, { ref: false })]);
          await checkInterrupted();
          continue;
        }
        releaseAt = work.nextDueAt ?? new Date(Date.now() + leaseMs);
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
      if (!isTerminalSagaStatus(held.current.state.status)) {
        await releaseWork(pool, workerId, sagaId, releaseAt).catch(() => undefined);
      }
    }
  }

  /**
   * Runs one effect (a step or a compensation attempt) with its timeout, then records the outcome
   * with the effect's own domain events in one transaction, together with the transitions that
   * outcome makes due at once (the next steps' StepStarted, the next compensation): see advance().
   * Stale outcomes change nothing. One span per attempt, in the saga's trace, on this worker.
   */
  private runEffect(held: HeldSaga, step: string, attempt: number, phase: Phase, interrupt: AbortSignal): Promise<void> {
    const attributes = () => ({
      'saga.id': held.sagaId,
      'saga.type': held.current.state.sagaType,
      'saga.tenant_id': held.tenantId,
      'saga.step': step,
      'saga.step.phase': phase,
      'saga.step.attempt': attempt,
      'saga.worker.id': this.ctx.workerId,
    });
    const name = `${phase === 'run' ? 'saga.step' : 'saga.compensate'} ${step}`;
    return inSpan(name, contextOf(held.traceparent) ?? context.active(), attributes, (span) => this.effectAndOutcome(held, step, attempt, phase, interrupt, span));
  }

  private async effectAndOutcome(held: HeldSaga, step: string, attempt: number, phase: Phase, interrupt: AbortSignal, span: Span): Promise<void> {
    const shutdown = this.shutdownSignal();
    const result = await this.execute(held.sagaId, held.current.state, shutdown, step, attempt, phase, interrupt);
    if (!result) return; // no such step
    let { outcome, failure } = result;
    const interrupted = shutdown.aborted && failure !== undefined;
    if (span.isRecording()) {
      span.setAttribute('saga.step.outcome', interrupted ? 'interrupted' : failure ? 'failed' : 'succeeded');
      if (failure && !interrupted) failSpan(span, failure, failure.code ?? 'STEP_FAILED');
    }
    if (interrupted) return; // not the effect's fault: resume elsewhere

    /** The outcome's events, then whatever it makes due at once (unless the worker is stopping). */
    const withFollowUps = (events: SagaEvent[], current: SagaState, at: Date): SagaEvent[] => {
      if (events.length === 0 || shutdown.aborted) return events;
      return [...events, ...advance(foldSagaEvents(events, current), at).events];
    };
    const commit = (events: SagaEvent[], effects: DomainEffects = {}) =>
      this.commit({ sagaId: held.sagaId, tenantId: held.tenantId, loaded: held.current, events, held, record: effects.record, commands: effects.commands });
    for (let round = 0; round < 20; round++) {
      const recorded = await serialized(held, async () => {
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
          const decided = decide(
            failAttemptCommand(phase, { step, attempt, error: f.message, at, jitter: this.ctx.random(), retryable: f.retryable, ...(f.code && PLATFORM_ERROR_CODES.has(f.code) ? { code: f.code } : {}) }),
            current.state,
          );
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
          const fresh = await loadSaga(this.ctx.store, held.sagaId);
          if (!fresh) return true;
          held.current = fresh;
          return false;
        }
      });
      if (recorded) return;
    }
  }

  /**
   * The effect itself, under its timeout and the worker's shutdown: its outcome, or its failure.
   * Undefined when the plan has no such step.
   */
  private async execute(
    sagaId: string,
    state: SagaState,
    shutdown: AbortSignal,
    step: string,
    attempt: number,
    phase: Phase,
    interrupt: AbortSignal,
  ): Promise<{ outcome?: StepOutcome; failure?: StepFailure } | undefined> {
    const plan = state.plan.steps.find((s) => s.name === step);
    if (!plan) return undefined;
    const timeoutMs = phase === 'run' ? plan.timeoutMs : plan.compensation?.timeoutMs ?? plan.timeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new StepFailure(`timeout after ${timeoutMs} ms`, true, 'TIMEOUT')), timeoutMs);
    const onShutdown = () => controller.abort(shutdown.reason);
    shutdown.addEventListener('abort', onShutdown);
    const onInterrupt = () => controller.abort(interrupt.reason);
    interrupt.addEventListener('abort', onInterrupt);
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
    const definition = this.ctx.definition(state.sagaType);
    try {
      const effect = phase === 'run' ? definition.run(ctx) : definition.compensate(ctx);
      const outcome = await Promise.race([
        effect,
        new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason))),
      ]);
      return { outcome };
    } catch (err) {
      return { failure: toStepFailure(err) };
    } finally {
      clearTimeout(timer);
      shutdown.removeEventListener('abort', onShutdown);
      interrupt.removeEventListener('abort', onInterrupt);
    }
  }
}

/** Runs `fn` after the saga's earlier commits (its failure does not stop later ones). */
function serialized<T>(held: HeldSaga, fn: () => Promise<T>): Promise<T> {
  const result = held.queue.then(fn);
  held.queue = result.catch(() => undefined);
  return result;
}

function toStepFailure(err: unknown): StepFailure {
  if (err instanceof StepFailure) return err;
  const e = err as { message?: string; code?: string; name?: string; permanent?: boolean };
  const message = e?.message ?? String(err);
  // Business refusals (domain rules, saga rules) will not change on retry.
  const business = e?.name === 'DomainError' || e?.name === 'SagaError' || e?.permanent === true;
  return new StepFailure(e?.code ? `${e.code}: ${message}` : message, !business, e?.code);
}
