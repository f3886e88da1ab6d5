import { Command, CommanderError } from 'commander';
import { defineAgentCommands } from './commands/agents.command';
import { defineDeadLetterCommands } from './commands/dead-letters.command';
import { defineDefinitionCommands } from './commands/definitions.command';
import { defineEventCommands } from './commands/events.command';
import { defineProjectionCommands } from './commands/projections.command';
import { defineQueueCommands } from './commands/queues.command';
import { defineSagaCommands } from './commands/sagas.command';
import { defineScheduleCommands } from './commands/schedules.command';
import { DEFAULT_API_URL, globalOptions } from './context';
import { EXIT, EXIT_CODES_HELP, isCliError } from './exit-codes';

const HELP_FOOTER = `
Environment:
  SAGA_API_URL   the API's base URL (default ${DEFAULT_API_URL}); --url overrides it
  SAGA_API_KEY   the API key (Authorization: Bearer); --key overrides it (but shows in ps)
  SAGA_TENANT    the tenant the admin key acts for (X-Tenant-Id); --tenant overrides it

Output: tables for people; --json prints the API's JSON on stdout (streams: one JSON line per
event). Progress bars and hints go to stderr, bars only when stderr is a terminal.

${EXIT_CODES_HELP}

Examples:
  saga sagas list --status COMPENSATION_FAILED
  saga sagas compensations <sagaId>
  saga sagas skip <sagaId> --step reserve-resources --reason "released by hand" --watch
  saga projections rebuild saga_summaries --wait
  saga definitions push checkout.yaml`;

/** The `saga` command tree. Usage errors surface as CommanderError (see run). */
export function buildProgram(version: string): Command {
  const program = new Command('saga')
    .description('Operate the Saga Platform through its public /v1 API: sagas, events, projections, dead letters, agents, queues, workflow definitions and schedules.')
    .version(version, '-V, --version')
    .enablePositionalOptions()
    // Inherited by every command defined below.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', HELP_FOOTER);
  for (const option of globalOptions(false)) program.addOption(option);
  defineSagaCommands(program);
  defineEventCommands(program);
  defineProjectionCommands(program);
  defineDeadLetterCommands(program);
  defineAgentCommands(program);
  defineQueueCommands(program);
  defineDefinitionCommands(program);
  defineScheduleCommands(program);
  const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);
  for (const command of leaves(program)) for (const option of globalOptions(true)) command.addOption(option);
  return program;
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code; errors are printed on stderr. */
export async function run(argv: string[], version: string): Promise<number> {
  const program = buildProgram(version);
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? EXIT.OK);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed the message (or the help / version asked for).
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.OK : EXIT.USAGE;
    }
    if (isCliError(err)) {
      process.stderr.write(`saga: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`saga: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.REFUSED;
  }
}
