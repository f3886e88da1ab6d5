/**
 * A projection runner in a process of its own, for the crash and leadership specs:
 *   node -r @swc-node/register libs/projections/src/testing/projection-child.ts
 * Configured by environment (PROJ_DB_URL, PROJ_INSTANCE, PROJ_NAME, PROJ_BATCH_SIZE,
 * PROJ_BATCH_DELAY_MS, PROJ_LEADERSHIP_RETRY_MS, PROJ_POLL_MS). Reports on stdout, one JSON
 * object per line: started, leader (on every change), batch (inside the batch transaction, before
 * the artificial delay), log, stopped. SIGTERM stops it gracefully (exit code 0).
 */
import { createPool } from '@app/database';
import { PostgresEventStore } from '@app/event-store';
import { ProjectionRunner } from '../projection-runner';
import { appliedLogProjection } from './applied-log';

function emit(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...message, pid: process.pid })}\n`);
}

async function main(): Promise<void> {
  const env = process.env;
  const url = env.PROJ_DB_URL;
  if (!url) throw new Error('PROJ_DB_URL is required');
  const instance = env.PROJ_INSTANCE ?? `pid-${process.pid}`;
  const name = env.PROJ_NAME ?? 'applied';
  const pool = createPool(url, { max: 6 });
  const store = new PostgresEventStore(pool);
  const projection = appliedLogProjection({
    name,
    instance,
    delayMs: Number(env.PROJ_BATCH_DELAY_MS ?? 0),
    onBatch: (events) =>
      emit({ type: 'batch', count: events.length, first: events[0].globalPosition, last: events[events.length - 1].globalPosition }),
  });
  const runner = new ProjectionRunner(pool, store, [projection], {
    batchSize: Number(env.PROJ_BATCH_SIZE ?? 50),
    pollIntervalMs: Number(env.PROJ_POLL_MS ?? 100),
    leadershipRetryMs: Number(env.PROJ_LEADERSHIP_RETRY_MS ?? 100),
    log: (message, fields) => emit({ type: 'log', message, ...fields }),
  });

  let leader = false;
  const watch = setInterval(() => {
    if (runner.isLeader(name) !== leader) {
      leader = !leader;
      emit({ type: 'leader', leader });
    }
  }, 5);

  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    clearInterval(watch);
    void (async () => {
      await runner.stop();
      await pool.end();
      emit({ type: 'stopped' });
      process.exit(0);
    })();
  });

  await runner.start();
  emit({ type: 'started', instance });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
