import { Command, Option } from 'commander';
import { Schemas } from '../api/api-client';
import { COMPENSATION_STATUSES, SAGA_STATUSES, SAGA_TYPES } from '../api/contract';
import { action, CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { parseCount, parseDuration, parseJson, parseJsonObject, parsePositive, readDocument, readObject } from '../input';
import { describeEvent } from '../output/event-line';
import { formatDuration, formatTime, noteNextPage, printFields, printJson, printLine, printTable } from '../output/output';
import { watchSaga, WatchOptions } from './saga-watch';

type SagaView = Schemas['SagaViewDto'];
type PageOptions = { limit?: number; cursor?: string };
type WatchFlags = { timeout?: number; progress?: boolean };

const WATCH_HELP = `
It prints each saga event as it commits (--json: one JSON line per event, as GET /v1/sagas/{id}/events
returns them) and a progress bar on stderr when stderr is a terminal (--progress: always,
--no-progress: never). A dropped connection is resumed after the last event seen (Last-Event-ID).

Exit code:
  0  the saga ended COMPLETED or COMPENSATED
  4  the saga needs an operator: it ended COMPENSATION_FAILED (retry or skip the stuck
     compensation) or is SUSPENDED (resume or compensate it)
  5  --timeout passed first
  1  unknown saga (or another tenant's);  3  the API is unreachable`;

/** The options of the long wait (`watch`, and `--watch` after an operator action). */
function watchOptions(command: Command): Command {
  return command
    .option('--timeout <duration>', 'give up waiting after this long (e.g. 90s, 10m): exit 5', parseDuration)
    .option('--progress', 'draw the progress bar on stderr even when it is not a terminal')
    .option('--no-progress', 'never draw the progress bar');
}

const pageOptions = (command: Command, max: number) =>
  command.option('--limit <n>', `page size (at most ${max})`, parsePositive).option('--cursor <cursor>', 'the page after this cursor (printed as "more: ..." after a full page)');

function steps(s: { steps: { status: string }[] }): string {
  return `${s.steps.filter((x) => x.status === 'SUCCEEDED').length}/${s.steps.length}`;
}

function stepNote(step: SagaView['steps'][number]): string | undefined {
  if (step.error) return `${step.error}${step.errorCode ? ` [${step.errorCode}]` : ''}`;
  if (step.waitingFor) return `waits for signal ${step.waitingFor.signal}`;
  if (step.progress) return `${step.progress.percent}%${step.progress.message ? ` ${step.progress.message}` : ''}`;
  if (step.queue) return `queued for ${step.queue.capability}${step.queue.agentId ? ` (agent ${step.queue.agentId})` : ''}`;
  return undefined;
}

function printSaga(view: SagaView): void {
  printFields([
    ['Saga', view.sagaId],
    ['Tenant', view.tenantId],
    ['Type', view.type],
    ['Status', view.status],
    ['Definition', view.definition ? `${view.definition.name} v${view.definition.version}` : undefined],
    ['Progress', `${view.progress.completedSteps}/${view.progress.totalSteps} steps (${view.progress.percent}%)`],
    ['Version', view.version],
    ['Started', formatTime(view.startedAt)],
    ['Updated', formatTime(view.updatedAt)],
    ['Finished', formatTime(view.finishedAt)],
  ]);
  printLine();
  printTable(
    ['STEP', 'STATUS', 'ATTEMPTS', 'STARTED', 'FINISHED', 'NOTE'],
    view.steps.map((s) => [s.name, s.status, s.attempts, formatTime(s.startedAt), formatTime(s.finishedAt), stepNote(s)]),
    'No steps.',
  );
}

/**
 * An operator action: the API's answer (the saga after it), then with `--watch` the saga followed
 * from just before the action, so its own events show too.
 */
async function operate(ctx: CliContext, sagaId: string, what: string, options: { watch?: boolean } & WatchFlags, act: () => Promise<SagaView>): Promise<ExitCode | void> {
  const before = options.watch ? (await ctx.client.get('/v1/sagas/{sagaId}', { path: { sagaId } })).version : undefined;
  const view = await act();
  if (ctx.json && !options.watch) printJson(view);
  else if (!ctx.json) printLine(`saga ${view.sagaId}: ${what}; now ${view.status}`);
  if (before !== undefined) return watchSaga(ctx, sagaId, { after: before, timeoutMs: options.timeout, progress: options.progress });
}

/** A reason is required by the API for every action but retry: ask for it by name. */
const reasonOption = (command: Command, required: boolean) =>
  required ? command.requiredOption('--reason <text>', 'why (recorded with your key as actor)') : command.option('--reason <text>', 'why (recorded with your key as actor)');

const actionCommand = (parent: Command, name: string, description: string, reasonRequired: boolean) =>
  watchOptions(reasonOption(parent.command(name).description(description).argument('<sagaId>', 'the saga id'), reasonRequired).option('--watch', 'then follow the saga as `sagas watch` does (and exit as it does)'));

export function defineSagaCommands(program: Command): void {
  const sagas = program.command('sagas').description('list, inspect, follow and operate sagas');

  pageOptions(
    sagas
      .command('list')
      .description('list sagas, newest first (from the saga_summaries read model)')
      .addOption(new Option('--status <status>', 'only sagas in this status').choices(SAGA_STATUSES))
      .addOption(new Option('--type <type>', 'only sagas of this type').choices(SAGA_TYPES))
      .option('--definition <name>', 'only task workflows started from this stored definition'),
    500,
  ).action(
    action(async (ctx, o: PageOptions & { status?: (typeof SAGA_STATUSES)[number]; type?: (typeof SAGA_TYPES)[number]; definition?: string }) => {
      const page = await ctx.client.get('/v1/sagas', { query: { status: o.status, type: o.type, definition: o.definition, limit: o.limit, cursor: o.cursor } });
      if (ctx.json) return printJson(page);
      printTable(
        ['SAGA', 'TYPE', 'STATUS', 'STEPS', 'FAILED STEP', 'STARTED', 'DURATION'],
        page.items.map((s) => [s.sagaId, s.definition ? `${s.type} (${s.definition.name} v${s.definition.version})` : s.type, s.status, steps(s), s.failedStep, formatTime(s.startedAt), formatDuration(s.durationMs)]),
        'No sagas.',
      );
      noteNextPage(page.nextCursor);
    }),
  );

  sagas
    .command('show')
    .description('show one saga: status, progress and steps (read from its own stream)')
    .argument('<sagaId>', 'the saga id')
    .action(
      action(async (ctx, sagaId: string) => {
        const view = await ctx.client.get('/v1/sagas/{sagaId}', { path: { sagaId } });
        if (ctx.json) printJson(view);
        else printSaga(view);
      }),
    );

  sagas
    .command('events')
    .description("list a saga's events (its own stream)")
    .argument('<sagaId>', 'the saga id')
    .option('--from-version <n>', 'start at this version', parseCount)
    .option('--limit <n>', 'at most this many events (at most 1000)', parsePositive)
    .option('--backward', 'newest first')
    .action(
      action(async (ctx, sagaId: string, o: { fromVersion?: number; limit?: number; backward?: boolean }) => {
        const page = await ctx.client.get('/v1/sagas/{sagaId}/events', { path: { sagaId }, query: { fromVersion: o.fromVersion, limit: o.limit, direction: o.backward ? 'backward' : undefined } });
        if (ctx.json) return printJson(page);
        printTable(
          ['VERSION', 'AT', 'TYPE', 'DETAIL'],
          page.events.map((e) => [e.version, formatTime(e.recordedAt), e.type, describeEvent(e)]),
          'No events.',
        );
      }),
    );

  pageOptions(
    sagas
      .command('compensations')
      .description("a saga's compensation log, or (without an id) the compensations of all the tenant's sagas (operator)")
      .argument('[sagaId]', 'the saga id')
      .addOption(new Option('--status <status>', 'without an id: only entries in this status').choices(COMPENSATION_STATUSES)),
    500,
  ).action(
    action(async (ctx, sagaId: string | undefined, o: PageOptions & { status?: (typeof COMPENSATION_STATUSES)[number] }) => {
      if (sagaId) {
        const log = await ctx.client.get('/v1/sagas/{sagaId}/compensations', { path: { sagaId } });
        if (ctx.json) return printJson(log);
        printLine(`saga ${log.sagaId} ${log.status}`);
        printTable(
          ['STEP', 'STATUS', 'ATTEMPT', 'AT', 'ERROR / REASON', 'ACTOR'],
          log.entries.map((e) => [e.step, e.status, e.attempt, formatTime(e.at), e.error ?? e.reason, e.actor]),
          'No compensations.',
        );
        return;
      }
      const page = await ctx.client.get('/v1/compensations', { query: { status: o.status, limit: o.limit, cursor: o.cursor } });
      if (ctx.json) return printJson(page);
      printTable(
        ['SAGA', 'STEP', 'STATUS', 'ATTEMPT', 'AT', 'ERROR / REASON', 'ACTOR'],
        page.items.map((e) => [e.sagaId, e.step, e.status, e.attempt, formatTime(e.at), e.error ?? e.reason, e.actor]),
        'No compensations.',
      );
      noteNextPage(page.nextCursor);
    }),
  );

  watchOptions(
    sagas
      .command('watch')
      .description('follow a saga live until it ends (COMPLETED, COMPENSATED, COMPENSATION_FAILED) or is SUSPENDED')
      .argument('<sagaId>', 'the saga id')
      .option('--no-history', 'only what happens from now on, not the events so far'),
  )
    .addHelpText('after', WATCH_HELP)
    .action(action(async (ctx, sagaId: string, o: WatchFlags & { history: boolean }) => watchSaga(ctx, sagaId, { after: o.history ? 'start' : 'now', timeoutMs: o.timeout, progress: o.progress } satisfies WatchOptions)));

  actionCommand(sagas, 'retry', 'attempt the stuck compensation of a COMPENSATION_FAILED saga again (operator)', false).action(
    action(async (ctx, sagaId: string, o: { reason?: string; watch?: boolean } & WatchFlags) =>
      operate(ctx, sagaId, 'retry accepted', o, () => ctx.client.post('/v1/sagas/{sagaId}/retry', { path: { sagaId }, body: { reason: o.reason } })),
    ),
  );

  actionCommand(sagas, 'skip', 'mark the stuck compensation of a COMPENSATION_FAILED saga SKIPPED and compensate on (operator)', true)
    .requiredOption('--step <step>', 'the step whose compensation is stuck (see `sagas compensations <id>`)')
    .action(
      action(async (ctx, sagaId: string, o: { step: string; reason: string; watch?: boolean } & WatchFlags) =>
        operate(ctx, sagaId, `${o.step}'s compensation skipped`, o, () => ctx.client.post('/v1/sagas/{sagaId}/skip', { path: { sagaId }, body: { step: o.step, reason: o.reason } })),
      ),
    );

  actionCommand(sagas, 'cancel', 'stop a SCHEDULED, RUNNING or SUSPENDED saga and compensate what it completed (operator)', true).action(
    action(async (ctx, sagaId: string, o: { reason: string; watch?: boolean } & WatchFlags) =>
      operate(ctx, sagaId, 'cancel accepted', o, () => ctx.client.post('/v1/sagas/{sagaId}/cancel', { path: { sagaId }, body: { reason: o.reason } })),
    ),
  );

  actionCommand(sagas, 'resume', 'run the failed step of a SUSPENDED saga again, with fresh attempts (operator)', true)
    .option('--config <json>', "replace the failed task's config (task workflows)", parseJsonObject)
    .option('--config-file <file>', 'the same, from a YAML or JSON file')
    .action(
      action(async (ctx, sagaId: string, o: { reason: string; config?: Record<string, unknown>; configFile?: string; watch?: boolean } & WatchFlags) => {
        const config = o.configFile ? readObject(o.configFile) : o.config;
        return operate(ctx, sagaId, 'resumed', o, () => ctx.client.post('/v1/sagas/{sagaId}/resume', { path: { sagaId }, body: { reason: o.reason, ...(config ? { config } : {}) } }));
      }),
    );

  actionCommand(sagas, 'compensate', 'compensate the completed steps of a SUSPENDED saga, in reverse order (operator)', true).action(
    action(async (ctx, sagaId: string, o: { reason: string; watch?: boolean } & WatchFlags) =>
      operate(ctx, sagaId, 'compensation accepted', o, () => ctx.client.post('/v1/sagas/{sagaId}/compensate', { path: { sagaId }, body: { reason: o.reason } })),
    ),
  );

  sagas
    .command('signal')
    .description("send a signal to a saga's `wait` task (kept until the wait starts)")
    .argument('<sagaId>', 'the saga id')
    .argument('<name>', 'the signal name ([A-Za-z0-9_.-], as the wait task\'s config.signal)')
    .option('--payload <json>', "the wait task's output (JSON)", parseJson)
    .option('--payload-file <file>', 'the same, from a YAML or JSON file')
    .option('--signal-id <id>', 'de-duplicates: the same id twice is one delivery (default: a new id)')
    .action(
      action(async (ctx, sagaId: string, name: string, o: { payload?: unknown; payloadFile?: string; signalId?: string }) => {
        const payload = o.payloadFile ? readDocument(o.payloadFile) : o.payload;
        const body = { ...(o.signalId ? { signalId: o.signalId } : {}), ...(payload !== undefined ? { payload } : {}) };
        const answer = await ctx.client.post('/v1/sagas/{sagaId}/signals/{name}', { path: { sagaId, name }, body: body as Schemas['SendSignalDto'] });
        if (ctx.json) return printJson(answer);
        printLine(answer.accepted ? `signal ${answer.name} sent to saga ${answer.sagaId} (signalId ${answer.signalId})` : `signal ${answer.signalId} was delivered before: nothing new`);
      }),
    );
}
