import { Command } from 'commander';
import { action } from '../context';
import { formatDuration, printJson, printTable } from '../output/output';

export function defineQueueCommands(program: Command): void {
  program
    .command('queues')
    .description("the tenant's agent task queues, one per capability (operator)")
    .action(
      action(async (ctx) => {
        const queues = await ctx.client.get('/v1/queues', {});
        if (ctx.json) return printJson(queues);
        printTable(
          ['CAPABILITY', 'PENDING', 'LOCKED', 'DELAYED', 'OLDEST PENDING', 'AGENTS H/D/U/O'],
          queues.map((q) => [q.capability, q.pending, q.locked, q.delayed, q.pending > 0 ? formatDuration(q.oldestPendingAgeMs) : undefined, `${q.agents.HEALTHY}/${q.agents.DEGRADED}/${q.agents.UNHEALTHY}/${q.agents.OFFLINE}`]),
          'No queues.',
        );
      }),
    );
}
