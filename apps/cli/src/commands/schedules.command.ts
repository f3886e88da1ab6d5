import { Command, Option } from 'commander';
import { Schemas } from '../api/api-client';
import { SCHEDULABLE_SAGA_TYPES, SCHEDULE_OVERLAPS } from '../api/contract';
import { action } from '../context';
import { usageError } from '../exit-codes';
import { parseJsonObject, parsePositive, readObject } from '../input';
import { formatTime, noteNextPage, printFields, printJson, printLine, printTable } from '../output/output';

type Schedule = Schemas['ScheduleDto'];

const CREATE_HELP = `
The start body of each fire comes from --body, --body-file, or --definition (a stored workflow
definition, resolved at each fire; with --input). Examples:

  saga schedules create --id nightly-import --cron "30 2 * * *" --timezone Europe/Berlin \\
    --definition import --input '{"source":"s3://bucket/today"}'
  saga schedules create --cron "*/5 * * * *" --saga-type task-workflow --body-file workflow.yaml`;

function lastRun(s: Schedule): string | undefined {
  const run = s.recentRuns[0];
  if (!run) return undefined;
  return `${formatTime(run.at)} ${run.skipped ? 'skipped' : run.error ? `failed: ${run.error}` : (run.sagaId ?? 'starting')}`;
}

function printSchedule(s: Schedule): void {
  printFields([
    ['Schedule', s.id],
    ['Cron', `${s.cron} (${s.timezone})`],
    ['Saga type', s.sagaType],
    ['Overlap', s.overlap],
    ['Paused', s.paused ? 'yes' : 'no'],
    ['Next run', formatTime(s.nextRunAt)],
    ['Created', formatTime(s.createdAt)],
    ['Body', JSON.stringify(s.body)],
  ]);
  printLine();
  printTable(
    ['RUN AT', 'SAGA', 'NOTE'],
    s.recentRuns.map((r) => [formatTime(r.at), r.sagaId, r.skipped ? 'skipped: the previous saga was still running' : r.error]),
    'No runs yet.',
  );
}

export function defineScheduleCommands(program: Command): void {
  const schedules = program.command('schedules').description('cron schedules that start a saga at each fire');

  schedules
    .command('list')
    .description('list schedules, newest first, with their next and last run')
    .option('--limit <n>', 'page size', parsePositive)
    .option('--cursor <cursor>', 'the page after this cursor')
    .action(
      action(async (ctx, o: { limit?: number; cursor?: string }) => {
        const page = await ctx.client.get('/v1/schedules', { query: { limit: o.limit, cursor: o.cursor } });
        if (ctx.json) return printJson(page);
        printTable(
          ['ID', 'CRON', 'TIMEZONE', 'SAGA TYPE', 'PAUSED', 'NEXT RUN', 'LAST RUN'],
          page.items.map((s) => [s.id, s.cron, s.timezone, s.sagaType, s.paused ? 'yes' : 'no', formatTime(s.nextRunAt), lastRun(s)]),
          'No schedules.',
        );
        noteNextPage(page.nextCursor);
      }),
    );

  schedules
    .command('show')
    .description('show a schedule with its recent runs')
    .argument('<id>', 'the schedule id')
    .action(
      action(async (ctx, id: string) => {
        const s = await ctx.client.get('/v1/schedules/{id}', { path: { id } });
        if (ctx.json) printJson(s);
        else printSchedule(s);
      }),
    );

  schedules
    .command('create')
    .description('create a schedule: a five-field cron, read in a time zone, that starts a saga')
    .requiredOption('--cron <expression>', 'minute hour day-of-month month day-of-week, e.g. "30 2 * * *"')
    .option('--id <id>', 'a slug of your choosing (default: a generated UUID)')
    .option('--timezone <zone>', 'an IANA time zone (default: UTC)')
    .addOption(new Option('--saga-type <type>', 'the saga each fire starts (default: task-workflow)').choices(SCHEDULABLE_SAGA_TYPES))
    .option('--body <json>', 'the start body of each fire (JSON)', parseJsonObject)
    .option('--body-file <file>', 'the same, from a YAML or JSON file')
    .option('--definition <name>', 'start this stored workflow definition (a task-workflow)')
    .option('--definition-version <n>', 'with --definition: this version (default: the latest at each fire)', parsePositive)
    .option('--input <json>', 'with --definition: its input (JSON)', parseJsonObject)
    .addOption(new Option('--overlap <policy>', 'skip (default): no fire while the previous saga runs; allow: fire anyway').choices(SCHEDULE_OVERLAPS))
    .option('--paused', 'create it paused')
    .addHelpText('after', CREATE_HELP)
    .action(
      action(
        async (
          ctx,
          o: {
            cron: string;
            id?: string;
            timezone?: string;
            sagaType?: (typeof SCHEDULABLE_SAGA_TYPES)[number];
            body?: Record<string, unknown>;
            bodyFile?: string;
            definition?: string;
            definitionVersion?: number;
            input?: Record<string, unknown>;
            overlap?: (typeof SCHEDULE_OVERLAPS)[number];
            paused?: boolean;
          },
        ) => {
          const sources = [o.body, o.bodyFile, o.definition].filter((x) => x !== undefined).length;
          if (sources !== 1) throw usageError('give the start body with exactly one of --body, --body-file or --definition');
          if ((o.definitionVersion !== undefined || o.input !== undefined) && !o.definition) throw usageError('--definition-version and --input go with --definition');
          const body = o.definition
            ? { definition: { name: o.definition, ...(o.definitionVersion ? { version: o.definitionVersion } : {}) }, ...(o.input ? { input: o.input } : {}) }
            : (o.body ?? readObject(o.bodyFile!));
          const created = await ctx.client.post('/v1/schedules', {
            body: {
              cron: o.cron,
              sagaType: o.sagaType ?? 'task-workflow',
              body,
              ...(o.id ? { id: o.id } : {}),
              ...(o.timezone ? { timezone: o.timezone } : {}),
              ...(o.overlap ? { overlap: o.overlap } : {}),
              ...(o.paused ? { paused: true } : {}),
            },
          });
          if (ctx.json) return printJson(created);
          printLine(`created schedule ${created.id}: ${created.cron} (${created.timezone}), ${created.paused ? 'paused' : `next run ${formatTime(created.nextRunAt)}`}`);
        },
      ),
    );

  for (const [verb, done] of [
    ['pause', 'paused: no fire until it is resumed'],
    ['resume', 'resumed'],
  ] as const) {
    schedules
      .command(verb)
      .description(verb === 'pause' ? 'stop a schedule from firing until it is resumed' : 'let a paused schedule fire again from its next cron time')
      .argument('<id>', 'the schedule id')
      .action(
        action(async (ctx, id: string) => {
          const s = await ctx.client.post(verb === 'pause' ? '/v1/schedules/{id}/pause' : '/v1/schedules/{id}/resume', { path: { id } });
          if (ctx.json) return printJson(s);
          printLine(`schedule ${s.id} ${done}${s.nextRunAt ? `; next run ${formatTime(s.nextRunAt)}` : ''}`);
        }),
      );
  }

  schedules
    .command('delete')
    .description('delete a schedule (sagas it started run on)')
    .argument('<id>', 'the schedule id')
    .action(
      action(async (ctx, id: string) => {
        await ctx.client.delete('/v1/schedules/{id}', { path: { id } });
        if (ctx.json) return printJson({ id, deleted: true });
        printLine(`deleted schedule ${id}`);
      }),
    );
}
