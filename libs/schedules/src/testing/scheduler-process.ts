/**
 * A worker's scheduler in a process of its own, for crash tests: a Scheduler on DATABASE_URL that
 * starts sagas (the test process runs them) and reads an accelerated clock shared with the test
 * (CLOCK_START, CLOCK_REAL_START, CLOCK_FACTOR; see accelerated-clock.ts). Prints `ready` once its
 * loop runs and `leader <clock time>` when it becomes the leader; dies with its parent (stdin closed).
 *
 *   DATABASE_URL=postgres://… node -r @swc-node/register libs/schedules/src/testing/scheduler-process.ts
 */
import { createPool } from '@app/database';
import { Scheduler } from '../scheduler';
import { acceleratedClock } from './accelerated-clock';
import { createScheduleRuntime } from './schedule-test-kit';

function main(): void {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  // Few connections: the server is shared with the other test files.
  const pool = createPool(url, { max: 3 });
  const { commands, executor } = createScheduleRuntime(pool);
  const clock = acceleratedClock(Number(process.env.CLOCK_START), Number(process.env.CLOCK_REAL_START), Number(process.env.CLOCK_FACTOR));
  const scheduler = new Scheduler(pool, commands, executor, {
    clock,
    tickMs: 40,
    log: (message, fields) => {
      if (message === 'scheduler leadership acquired') process.stdout.write(`leader ${clock.now().toISOString()}\n`);
      process.stderr.write(`${message} ${JSON.stringify(fields ?? {})}\n`);
    },
  });
  process.stdin.on('close', () => process.exit(1));
  process.stdin.on('end', () => process.exit(1));
  process.stdin.resume();
  scheduler.start();
  process.stdout.write('ready\n');
}

main();
