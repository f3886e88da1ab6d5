/**
 * A saga worker in a process of its own, for crash tests: runs an executor with both saga types
 * on DATABASE_URL until SIGTERM (graceful) or SIGKILL (a crash). Prints `ready <workerId>` once it
 * claims work. Settings from the environment: WORKER_LEASE_MS, WORKER_CONCURRENCY, WORKER_POLL_MS,
 * WORKER_POOL_SIZE; with WORKER_EXIT_WITH_PARENT=1 it dies as soon as its stdin closes (the parent
 * test process is gone), so a killed test run leaves no orphan worker behind.
 *
 *   DATABASE_URL=postgres://… node -r @swc-node/register libs/sagas/src/testing/worker-process.ts
 */
import { createPool } from '@app/database';
import { createSagaRuntime } from './saga-test-kit';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const pool = createPool(url, { max: Number(process.env.WORKER_POOL_SIZE ?? 10) });
  const { executor } = createSagaRuntime(pool, {
    leaseMs: Number(process.env.WORKER_LEASE_MS ?? 2000),
    concurrency: Number(process.env.WORKER_CONCURRENCY ?? 16),
    pollIntervalMs: Number(process.env.WORKER_POLL_MS ?? 50),
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
