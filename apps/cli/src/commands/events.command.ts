import { Command } from 'commander';
import { action } from '../context';
import { parseCount, parseDuration, parsePositive } from '../input';
import { eventLine } from '../output/event-line';
import { printJsonLine, printLine } from '../output/output';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function defineEventCommands(program: Command): void {
  const events = program.command('events').description('the global event log (operator)');

  events
    .command('tail')
    .description('print the global log from a position on and follow it (GET /v1/events?after=)')
    .option('--after <position>', 'start after this global position (default 0: from the start)', parseCount, 0)
    .option('--category <category>', 'only streams of this category (e.g. saga, agent)')
    .option('--no-follow', 'stop once caught up instead of waiting for new events')
    .option('--interval <duration>', 'how often to look for new events once caught up', parseDuration, 1000)
    .option('--page <n>', 'events per request (at most 1000)', parsePositive, 1000)
    .addHelpText('after', '\nPeople get one line per event; --json one JSON line per event, as GET /v1/events returns them.\nIt pages in position order, gap-safe: an event is never skipped. Stop it with Ctrl-C.')
    .action(
      action(async (ctx, o: { after: number; category?: string; follow: boolean; interval: number; page: number }) => {
        let after = o.after;
        for (;;) {
          const page = await ctx.client.get('/v1/events', { query: { after, limit: o.page, category: o.category } });
          for (const e of page.events) ctx.json ? printJsonLine(e) : printLine(eventLine(e, `${String(e.globalPosition).padStart(8)}  ${e.streamId}  `));
          after = page.lastPosition;
          if (page.events.length < o.page) {
            if (!o.follow) return;
            await sleep(o.interval);
          }
        }
      }),
    );
}
