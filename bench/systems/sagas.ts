import { isTerminalSagaStatus, registerBuiltinHandlers, SagaState, TaskHandlerRegistry, TaskWorkflowInput } from '@app/sagas';
import { createSagaRuntime } from '../../libs/sagas/src/testing/saga-test-kit';
import { TENANT } from '../harness/payload';
import { Metrics } from '../harness/types';
import { openMigratedPool } from './our-database';

/**
 * What the saga workloads (W7, W8) need from a system: start saga `index` (a chain of five no-op
 * steps; with `failLast` the fifth step fails and the four completed ones are compensated in
 * reverse), and learn when it is terminal.
 */
export interface SagaSystem {
  readonly system: string;
  /** The settings the run used (worker concurrency, pool size, …): printed with the figures. */
  readonly settings: Metrics;
  /**
   * Resolves once the start is durable, with a promise of the saga's terminal outcome
   * (`COMPLETED` or `COMPENSATED`) and the time it became terminal (performance.now()).
   */
  start(index: number, failLast: boolean): Promise<{ done: Promise<SagaOutcome> }>;
  /** Step and compensation effects run so far (a check that every system did the same work). */
  counters(): { steps: number; compensations: number };
  close(): Promise<void>;
}

export interface SagaOutcome {
  status: 'COMPLETED' | 'COMPENSATED';
  at: number;
}

export type OpenSagaSystem = (url: string, poolSize: number, options?: Record<string, number>) => Promise<SagaSystem>;

export const SAGA_STEPS = 5;

/**
 * The worker's concurrency in W7/W8 (BENCH_SAGA_CONCURRENCY overrides). With the group commit,
 * more sagas in flight means larger groups: tried on the shared 2-core machine with a
 * 16-connection pool, W7 gave 317 sagas/s at 64 and 465 at 128 (one run each, same day); 128 and
 * 256 were equal in the profiling harness (the 16 starters' start rate is then the limit).
 */
export const DEFAULT_SAGA_CONCURRENCY = 128;

/**
 * A task workflow of five tasks chained by dependsOn, handler `bench-step` (a no-op that counts),
 * tasks 1–4 compensated by `bench-undo` (a counting no-op); with `failLast` task 5 runs `fail`
 * (one attempt: no retries, as DBOS steps by default).
 */
export function fiveStepWorkflow(index: number, failLast: boolean): TaskWorkflowInput {
  return {
    name: `bench-${index}`,
    tasks: Array.from({ length: SAGA_STEPS }, (_, k) => {
      const last = k === SAGA_STEPS - 1;
      return {
        id: `t${k + 1}`,
        handler: last && failLast ? 'fail' : 'bench-step',
        dependsOn: k === 0 ? [] : [`t${k}`],
        retry: { maxAttempts: 1, backoffMs: 0 },
        ...(last ? {} : { compensation: { handler: 'bench-undo' } }),
        ...(last && failLast ? { config: { message: 'bench: last step fails' } } : {}),
      };
    }),
  };
}

/** The built-in task handlers plus the workloads' `bench-step` and `bench-undo` (no-ops that count). */
export function benchTaskHandlers(onStep: () => void = () => undefined, onUndo: () => void = () => undefined): TaskHandlerRegistry {
  return registerBuiltinHandlers(new TaskHandlerRegistry())
    .register('bench-step', async () => {
      onStep();
      return {};
    })
    .register('bench-undo', async () => {
      onUndo();
      return {};
    });
}

/**
 * Our saga platform: createSagaRuntime (the executor with both saga types, as the apps wire it) on
 * a database migrated by our migrator, worker loop in this process. Terminal sagas are seen through
 * the executor's afterCommit hook (called after the commit of every transition), so no polling.
 */
export async function openOursSagas(url: string, poolSize: number, options: Record<string, number> = {}): Promise<SagaSystem> {
  const concurrency = options.concurrency ?? (Number(process.env.BENCH_SAGA_CONCURRENCY) || DEFAULT_SAGA_CONCURRENCY);
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const pool = await openMigratedPool(url, poolSize);
  let steps = 0;
  let compensations = 0;
  const handlers = benchTaskHandlers(
    () => steps++,
    () => compensations++,
  );
  const waiters = new Map<string, (o: SagaOutcome) => void>();
  const early = new Map<string, SagaOutcome>();
  const onTerminal = (state: SagaState) => {
    const outcome: SagaOutcome = { status: state.status as SagaOutcome['status'], at: performance.now() };
    const w = waiters.get(state.sagaId);
    if (w) {
      waiters.delete(state.sagaId);
      w(outcome);
    } else early.set(state.sagaId, outcome);
  };
  const { executor } = createSagaRuntime(pool, {
    handlers,
    concurrency,
    pollIntervalMs,
    // The executor's defaults unless a caller (a profiling script) sets them.
    groupCommit: { maxSize: options.groupMaxSize, maxInFlight: options.groupInFlight },
    afterCommit: (_events, state) => {
      if (isTerminalSagaStatus(state.status)) onTerminal(state);
    },
    log: (message, fields) => {
      if (!/failed/.test(message)) return;
      process.stderr.write(`ours executor: ${message} ${JSON.stringify(fields)}\n`);
    },
  });
  await executor.startWorker();

  return {
    system: 'ours',
    settings: { concurrency, pool: poolSize, pollIntervalMs },
    async start(index, failLast) {
      const { sagaId } = await executor.start({ tenantId: TENANT, sagaType: 'task-workflow', input: fiveStepWorkflow(index, failLast) });
      const seen = early.get(sagaId);
      if (seen) {
        early.delete(sagaId);
        return { done: Promise.resolve(seen) };
      }
      return { done: new Promise<SagaOutcome>((resolve) => waiters.set(sagaId, resolve)) };
    },
    counters: () => ({ steps, compensations }),
    async close() {
      await executor.stopWorker();
      await pool.end();
    },
  };
}
