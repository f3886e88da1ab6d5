import { CustomTypesConfig, Pool, types } from 'pg';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { SAGA_STEPS, SagaOutcome, SagaSystem } from './sagas';

/**
 * DBOS Transact (@dbos-inc/dbos-sdk) as the saga peer: one workflow of five steps (DBOS.runStep of a
 * no-op), whose catch block runs the compensation steps of the completed steps in reverse (the
 * saga pattern as DBOS documents it). Its own system database (created by the harness, schema by
 * DBOS.launch), workflows started in this process with DBOS.startWorkflow and awaited through their
 * handles. Steps do not retry (DBOS's default), like ours in the workload.
 *
 * DBOS is a process-wide singleton: the workflow is registered once, and every run sets the config
 * and launches, then shuts down. Its pool carries node-postgres' built-in parsers (int8 as string,
 * json as JSON.parse): the process-wide ones are changed by @app/database (int8 -> Number) and by
 * Emmett's dumbo (int8 -> BigInt), neither of which DBOS expects.
 */

const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;
const pgDefaultTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === INT8) return (v: string) => v;
      if (oid === JSONB || oid === JSON_OID) return JSON.parse;
    }
    return types.getTypeParser(oid, format as 'text');
  }) as CustomTypesConfig['getTypeParser'],
};

class StepFailed extends Error {}

let steps = 0;
let compensations = 0;

async function benchStep(): Promise<void> {
  steps++;
}

async function failingStep(): Promise<void> {
  throw new StepFailed('bench: last step fails');
}

async function undoStep(): Promise<void> {
  compensations++;
}

/** The saga: five steps; on a failure, compensate the completed ones in reverse, then end COMPENSATED. */
async function fiveStepSaga(failLast: boolean): Promise<SagaOutcome['status']> {
  const completed: number[] = [];
  try {
    for (let k = 1; k <= SAGA_STEPS; k++) {
      const fails = k === SAGA_STEPS && failLast;
      await DBOS.runStep(fails ? failingStep : benchStep, { name: `t${k}` });
      completed.push(k);
    }
    return 'COMPLETED';
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    // Tasks 1–4 have a compensation (task 5, the failing one, has none to run).
    for (const k of completed.reverse()) {
      if (k < SAGA_STEPS) await DBOS.runStep(undoStep, { name: `undo-t${k}` });
    }
    return 'COMPENSATED';
  }
}

let registered: ((failLast: boolean) => Promise<SagaOutcome['status']>) | undefined;
let launched = false;

const logger = {
  info: () => undefined,
  debug: () => undefined,
  warn: (entry: unknown) => process.stderr.write(`dbos warn: ${String(entry)}\n`),
  error: (entry: unknown) => process.stderr.write(`dbos error: ${entry instanceof Error ? entry.stack : String(entry)}\n`),
};

export async function openDbosSagas(url: string, poolSize: number): Promise<SagaSystem> {
  if (launched) throw new Error('DBOS is a process-wide singleton: one run at a time');
  registered ??= DBOS.registerWorkflow(fiveStepSaga, { name: 'benchFiveStepSaga' });
  const workflow = registered;
  const pool = new Pool({ connectionString: url, max: poolSize, types: pgDefaultTypes });
  pool.on('error', (err) => process.emitWarning(`dbos pool: idle client error: ${err.message}`));
  DBOS.setConfig({ name: 'bench', systemDatabaseUrl: url, systemDatabasePool: pool, logger });
  try {
    await DBOS.launch();
  } catch (err) {
    await pool.end();
    throw err;
  }
  launched = true;
  const base = { steps, compensations };

  return {
    system: 'dbos',
    settings: { pool: poolSize },
    async start(_index, failLast) {
      const handle = await DBOS.startWorkflow(workflow)(failLast);
      return { done: handle.getResult().then((status) => ({ status, at: performance.now() })) };
    },
    counters: () => ({ steps: steps - base.steps, compensations: compensations - base.compensations }),
    async close() {
      try {
        await DBOS.shutdown();
      } finally {
        launched = false;
        await pool.end();
      }
    },
  };
}
