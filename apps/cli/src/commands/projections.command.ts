import { Command } from 'commander';
import { Schemas } from '../api/api-client';
import { action, CliContext } from '../context';
import { CliError, EXIT, ExitCode } from '../exit-codes';
import { parseDuration } from '../input';
import { formatDuration, printJson, printLine, printTable } from '../output/output';
import { createProgress } from '../output/progress';

type Projection = Schemas['ProjectionStatusDto'];

const POLL_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function projection(ctx: CliContext, name: string): Promise<Projection> {
  const found = (await ctx.client.get('/v1/projections', {})).find((p) => p.name === name);
  if (!found) throw new CliError(EXIT.REFUSED, `projection ${name} is not listed by GET /v1/projections`);
  return found;
}

/**
 * Polls GET /v1/projections until `name` is LIVE again (exit 0) or FAILED (exit 4), with a bar of
 * the events applied since the rebuild started (of those there were plus any appended meanwhile).
 */
async function waitUntilLive(ctx: CliContext, start: Projection, o: { timeout?: number; progress?: boolean }): Promise<ExitCode> {
  const progress = createProgress(o.progress, 'events');
  const began = Date.now();
  let total = Math.max(start.lag, 1);
  let current = start;
  let shown = '';
  try {
    for (;;) {
      total = Math.max(total, current.lag);
      progress.update(total - current.lag, total, current.status);
      // People reading a log (no terminal bar) still see each change of status.
      if (!ctx.json && !progress.active && current.status !== shown) printLine(`${current.name} ${current.status} (position ${current.position}, lag ${current.lag})`);
      shown = current.status;
      if (current.status === 'LIVE' || current.status === 'FAILED') break;
      if (o.timeout !== undefined && Date.now() - began >= o.timeout) {
        throw new CliError(EXIT.TIMEOUT, `projection ${current.name} is still ${current.status} (lag ${current.lag}) after ${formatDuration(o.timeout)} (--timeout)`);
      }
      await sleep(POLL_MS);
      current = await projection(ctx, current.name);
    }
  } finally {
    progress.stop();
  }
  if (ctx.json) printJson(current);
  else if (progress.active || current.status !== 'LIVE') printLine(`${current.name} ${current.status} (position ${current.position}, lag ${current.lag}) after ${formatDuration(Date.now() - began)}`);
  else printLine(`rebuilt in ${formatDuration(Date.now() - began)}`);
  if (current.status === 'FAILED') throw new CliError(EXIT.NEEDS_OPERATOR, `projection ${current.name} FAILED: ${current.lastError ?? 'no error recorded'}`);
  return EXIT.OK;
}

export function defineProjectionCommands(program: Command): void {
  const projections = program.command('projections').description('read models: positions, lag, rebuilds (operator; rebuild: admin)');

  projections
    .command('list')
    .description('every asynchronous read model with its position, lag and status')
    .action(
      action(async (ctx) => {
        const list = await ctx.client.get('/v1/projections', {});
        if (ctx.json) return printJson(list);
        printTable(
          ['NAME', 'STATUS', 'POSITION', 'LAG', 'LAST ERROR'],
          list.map((p) => [p.name, p.status, p.position, p.lag, p.lastError]),
          'No projections.',
        );
      }),
    );

  projections
    .command('rebuild')
    .description('rebuild a read model from zero while the API keeps answering (admin)')
    .argument('<name>', 'the projection (see `projections list`)')
    .option('--wait', 'wait until it is LIVE again, with a progress bar on stderr (exit 4 if it FAILED)')
    .option('--timeout <duration>', 'with --wait: give up after this long (e.g. 5m): exit 5', parseDuration)
    .option('--progress', 'draw the progress bar on stderr even when it is not a terminal')
    .option('--no-progress', 'never draw the progress bar')
    .action(
      action(async (ctx, name: string, o: { wait?: boolean; timeout?: number; progress?: boolean }) => {
        const started = await ctx.client.post('/v1/projections/{name}/rebuild', { path: { name } });
        if (o.wait) return waitUntilLive(ctx, started, o);
        if (ctx.json) return printJson(started);
        printLine(`${started.name} ${started.status}: the rebuild is under way (\`saga projections list\` shows its progress)`);
      }),
    );
}
