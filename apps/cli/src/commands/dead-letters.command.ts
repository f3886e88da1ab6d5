import { Command } from 'commander';
import { action } from '../context';
import { parsePositive } from '../input';
import { formatTime, noteNextPage, printJson, printLine, printTable } from '../output/output';

export function defineDeadLetterCommands(program: Command): void {
  const deadLetters = program.command('dead-letters').description('messages whose deliveries kept failing (operator)');

  deadLetters
    .command('list')
    .description('list dead letters, oldest first')
    .option('--topic <topic>', 'only this topic (e.g. saga.events)')
    .option('--limit <n>', 'page size', parsePositive)
    .option('--cursor <cursor>', 'the page after this cursor')
    .action(
      action(async (ctx, o: { topic?: string; limit?: number; cursor?: string }) => {
        const page = await ctx.client.get('/v1/dead-letters', { query: { topic: o.topic, limit: o.limit, cursor: o.cursor } });
        if (ctx.json) return printJson(page);
        printTable(
          ['ID', 'TOPIC', 'DELIVERIES', 'AT', 'REASON'],
          page.items.map((d) => [d.id, d.topic, d.deliveries, formatTime(d.at), d.reason]),
          'No dead letters.',
        );
        noteNextPage(page.nextCursor);
      }),
    );

  deadLetters
    .command('replay')
    .description('deliver a dead letter to its topic again (it leaves the dead letters)')
    .argument('<id>', 'the dead letter id (see `dead-letters list`)')
    .action(
      action(async (ctx, id: string) => {
        const replayed = await ctx.client.post('/v1/dead-letters/{id}/replay', { path: { id } });
        if (ctx.json) return printJson(replayed);
        printLine(`dead letter ${replayed.id} replayed to ${replayed.topic}`);
      }),
    );
}
