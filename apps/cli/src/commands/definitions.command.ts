import { Command, InvalidArgumentError } from 'commander';
import { Schemas } from '../api/api-client';
import { action, CliContext } from '../context';
import { EXIT, isCliError, usageError } from '../exit-codes';
import { parsePositive, readObject } from '../input';
import { formatTime, noteNextPage, printJson, printLine, printTable } from '../output/output';

const PUSH_HELP = `
The file holds the body of POST /v1/workflow-definitions, in YAML or JSON (.json), e.g.:

  name: checkout
  description: reserve, charge, ship
  onFailure: compensate
  tasks:
    - id: reserve
      handler: echo
      dependsOn: []
      config: { sku: "{{ input.sku }}" }
      compensation: { handler: noop }
    - id: charge
      handler: http
      dependsOn: [reserve]
      config: { url: https://payments.example/charge, body: { sku: "{{ reserve.output.sku }}" } }

Without a version (flag or file) the body becomes the latest + 1, unless the latest version already
has this very body: then nothing is stored (exit 0), so a deploy script may push on every run.
Versions never change: another body under an existing --version is refused (409, exit 1).`;

/** JSON with sorted keys: two bodies that differ only in key order compare equal. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );

type Stored = Schemas['WorkflowDefinitionCreatedDto'];

/** The latest stored version of `name` when its body is `body` (name and version aside). */
async function latestWithSameBody(ctx: CliContext, name: string, body: Record<string, unknown>): Promise<Stored | undefined> {
  let versions: { version: number }[];
  try {
    ({ versions } = await ctx.client.get('/v1/workflow-definitions/{name}', { path: { name } }));
  } catch (err) {
    if (isCliError(err) && err.exitCode === EXIT.REFUSED) return undefined; // not stored yet (or a bad name: the push will say)
    throw err;
  }
  if (versions.length === 0) return undefined;
  const latest = Math.max(...versions.map((v) => v.version));
  const { createdAt, name: _name, version: _version, ...stored } = await ctx.client.get('/v1/workflow-definitions/{name}/versions/{version}', { path: { name, version: latest } });
  const { name: _n, version: _v, ...pushed } = body;
  return canonical(stored) === canonical(pushed) ? { name, version: latest, createdAt } : undefined;
}

const parseVersion = (value: string): number | 'latest' => {
  if (value === 'latest') return value;
  try {
    return parsePositive(value);
  } catch {
    throw new InvalidArgumentError('a version number or "latest"');
  }
};

export function defineDefinitionCommands(program: Command): void {
  const definitions = program.command('definitions').description('stored, versioned task workflows: push once, start many times by name');

  definitions
    .command('push')
    .description('store a workflow definition from a YAML or JSON file (validated like a task-workflow start)')
    .argument('<file>', 'the definition (.yaml, .yml or .json; - for stdin)')
    .option('--name <name>', "the definition's name (instead of, or when missing from, the file)")
    .option('--version <n>', 'store as this version (default: the latest + 1)', parsePositive)
    .addHelpText('after', PUSH_HELP)
    .action(
      action(async (ctx, file: string, o: { name?: string; version?: number }) => {
        const doc = readObject(file);
        const body = { ...doc, ...(o.name ? { name: o.name } : {}), ...(o.version ? { version: o.version } : {}) };
        if (typeof body.name !== 'string') throw usageError(`${file} has no name: add "name:" to it or pass --name`);
        const unchanged = body.version === undefined ? await latestWithSameBody(ctx, body.name, body) : undefined;
        if (unchanged) return ctx.json ? printJson(unchanged) : printLine(`${unchanged.name} version ${unchanged.version} already has this body: unchanged`);
        const answer = await ctx.client.call('post', '/v1/workflow-definitions', { body: body as unknown as Schemas['CreateWorkflowDefinitionDto'] });
        if (ctx.json) return printJson(answer.data);
        const { name, version } = answer.data;
        printLine(answer.status === 201 ? `stored ${name} version ${version}` : `${name} version ${version} already has this body: unchanged`);
      }),
    );

  definitions
    .command('list')
    .description('list workflow definitions by name, with their latest version')
    .option('--limit <n>', 'page size', parsePositive)
    .option('--cursor <cursor>', 'the page after this cursor')
    .action(
      action(async (ctx, o: { limit?: number; cursor?: string }) => {
        const page = await ctx.client.get('/v1/workflow-definitions', { query: { limit: o.limit, cursor: o.cursor } });
        if (ctx.json) return printJson(page);
        printTable(
          ['NAME', 'LATEST', 'UPDATED', 'DESCRIPTION'],
          page.items.map((d) => [d.name, d.latestVersion, formatTime(d.updatedAt), d.description]),
          'No workflow definitions.',
        );
        noteNextPage(page.nextCursor);
      }),
    );

  definitions
    .command('show')
    .description('list the versions of a definition, or (--version) show one version as YAML')
    .argument('<name>', 'the definition name')
    .option('--version <n>', 'a version number, or "latest"', parseVersion)
    .action(
      action(async (ctx, name: string, o: { version?: number | 'latest' }) => {
        if (o.version === undefined) {
          const definition = await ctx.client.get('/v1/workflow-definitions/{name}', { path: { name } });
          if (ctx.json) return printJson(definition);
          printTable(['VERSION', 'CREATED'], definition.versions.map((v) => [v.version, formatTime(v.createdAt)]), 'No versions.');
          return;
        }
        let version = o.version;
        if (version === 'latest') {
          const { versions } = await ctx.client.get('/v1/workflow-definitions/{name}', { path: { name } });
          version = Math.max(...versions.map((v) => v.version));
        }
        const stored = await ctx.client.get('/v1/workflow-definitions/{name}/versions/{version}', { path: { name, version } });
        if (ctx.json) return printJson(stored);
        // YAML, as `definitions push` reads it.
        const YAML = require('yaml') as typeof import('yaml');
        process.stdout.write(YAML.stringify(stored));
      }),
    );
}
