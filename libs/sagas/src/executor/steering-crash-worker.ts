/**
 * A saga worker process for steering-crash.int-spec.ts: the harness's worker-process.ts (same
 * settings from the environment, same `ready <workerId>` line, same WORKER_EXIT_WITH_PARENT), with
 * the agent task queue wired in, so that it can start and settle `agent:<capability>` steps.
 *
 *   DATABASE_URL=postgres://… node -r @swc-node/register libs/sagas/src/executor/steering-crash-worker.ts
 */
import { createPool } from '@app/database';
import { AgentTaskQueue } from '@app/agents';
import { createSagaRuntime } from '../testing/saga-test-kit';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const pool = createPool(url, { max: Number(process.env.WORKER_POOL_SIZE ?? 10) });
  const { executor } = createSagaRuntime(pool, {
    leaseMs: Number(process.env.WORKER_LEASE_MS ?? 2000),
    concurrency: Number(process.env.WORKER_CONCURRENCY ?? 16),
    pollIntervalMs: Number(process.env.WORKER_POLL_MS ?? 50),
    externalWork: new AgentTaskQueue(),
    log: (message, fields) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
  });
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void executor
      .stopWorker()
      .then(() => pool.end())
      .then(() => process.exit(0), () => process.exit(1));
  });
  if (process.env.WORKER_EXIT_WITH_PARENT === '1') {
    process.stdin.on('close', () => process.exit(1));
    process.stdin.on('end', () => process.exit(1));
    process.stdin.resume();
  }
  await executor.startWorker();
  process.stdout.write(`ready ${executor.workerId}\n`);
}

main().catch((err) => {
  process.stderr.write(`worker failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
