import { Command, Option } from 'commander';
import { AGENT_STATUSES } from '../api/contract';
import { action } from '../context';
import { parsePositive } from '../input';
import { formatTime, noteNextPage, printFields, printJson, printLine, printTable } from '../output/output';

export function defineAgentCommands(program: Command): void {
  const agents = program.command('agents').description('provisioned agents and their instances');

  agents
    .command('list')
    .description('list agents, newest first')
    .addOption(new Option('--status <status>', 'only agents in this status').choices(AGENT_STATUSES))
    .option('--capability <capability>', 'only agents with this capability')
    .option('--limit <n>', 'page size', parsePositive)
    .option('--cursor <cursor>', 'the page after this cursor')
    .action(
      action(async (ctx, o: { status?: (typeof AGENT_STATUSES)[number]; capability?: string; limit?: number; cursor?: string }) => {
        const page = await ctx.client.get('/v1/agents', { query: { status: o.status, capability: o.capability, limit: o.limit, cursor: o.cursor } });
        if (ctx.json) return printJson(page);
        printTable(
          ['AGENT', 'NAME', 'TYPE', 'STATUS', 'CAPABILITIES', 'CREATED'],
          page.items.map((a) => [a.agentId, a.name, a.type, a.status, a.capabilities.join(', '), formatTime(a.createdAt)]),
          'No agents.',
        );
        noteNextPage(page.nextCursor);
      }),
    );

  agents
    .command('show')
    .description('show an agent: spec, scaling, and its instances with their health')
    .argument('<agentId>', 'the agent id')
    .action(
      action(async (ctx, agentId: string) => {
        const a = await ctx.client.get('/v1/agents/{agentId}', { path: { agentId } });
        if (ctx.json) return printJson(a);
        const s = a.scaling;
        printFields([
          ['Agent', a.agentId],
          ['Name', a.name],
          ['Type', a.type],
          ['Status', a.status],
          ['Capabilities', a.capabilities.join(', ')],
          ['Permissions', a.permissions.join(', ')],
          ['Resources', `${a.resources.cpuMillis} mCPU, ${a.resources.memoryMb} MB per instance`],
          ['Scaling', `${s.strategy} ${s.min}..${s.max}`],
          ['Desired', `${a.desiredInstances} instance(s)`],
          ['Saga', a.sagaId],
          ['Created', formatTime(a.createdAt)],
          ['Updated', formatTime(a.updatedAt)],
        ]);
        printLine();
        printTable(
          ['INSTANCE', 'STATUS', 'LAST HEARTBEAT', 'CPU %', 'MEMORY MB', 'IN FLIGHT'],
          a.instances.map((i) => [i.instanceId, i.status, formatTime(i.lastHeartbeatAt), i.load?.cpuPercent, i.load?.memoryMb, i.load?.inFlight]),
          'No instances.',
        );
      }),
    );
}
