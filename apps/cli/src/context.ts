import { Command, Option } from 'commander';
import { ApiClient } from './api/api-client';
import { ExitCode, usageError } from './exit-codes';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** The connection and output options, valid before or after any command (`saga --json sagas list` = `saga sagas list --json`). */
export interface GlobalOptions {
  url: string;
  key?: string;
  tenant?: string;
  json?: boolean;
}

/**
 * The global options as each command declares them. The program declares them too, without
 * environment or default, so they may come first; commands read their own options only (the program
 * has positional options), which lets a command use a name the program has (`--version`).
 */
export function globalOptions(withEnv: boolean): Option[] {
  const env = (option: Option, name: string, value?: string) => (withEnv ? (value !== undefined ? option.env(name).default(value) : option.env(name)) : option);
  return [
    env(new Option('--url <url>', "the API's base URL"), 'SAGA_API_URL', DEFAULT_API_URL),
    env(new Option('--key <key>', 'the API key'), 'SAGA_API_KEY'),
    env(new Option('--tenant <id>', 'the tenant the admin key acts for (X-Tenant-Id)'), 'SAGA_TENANT'),
    new Option('--json', 'print JSON (the API answer as is) instead of tables'),
  ];
}

/** A global option's value: given on the command line (the command's own first), else the command's env or default. */
function globalOption<K extends keyof GlobalOptions>(command: Command, key: K): GlobalOptions[K] {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.push(c);
  const given = chain.find((c) => c.getOptionValueSource(key) === 'cli');
  return (given ?? command).getOptionValue(key) as GlobalOptions[K];
}

/** What every command works with. */
export interface CliContext {
  /** `--json`: print the API's JSON on stdout instead of tables. */
  json: boolean;
  /** The API client; a usage error when no key was given (so `--help` never needs one). */
  readonly client: ApiClient;
}

function contextOf(command: Command): CliContext {
  const options: GlobalOptions = { url: globalOption(command, 'url'), key: globalOption(command, 'key'), tenant: globalOption(command, 'tenant'), json: globalOption(command, 'json') };
  let client: ApiClient | undefined;
  return {
    json: options.json === true,
    get client() {
      if (!options.key) throw usageError('no API key: set SAGA_API_KEY or pass --key <key>');
      client ??= new ApiClient({ baseUrl: options.url, apiKey: options.key, tenant: options.tenant });
      return client;
    },
  };
}

/**
 * A command's action: `handler` gets the context, then the command's arguments and options as
 * commander passes them. It returns the exit code (nothing: 0); errors are thrown as CliError.
 */
export function action<A extends unknown[]>(handler: (ctx: CliContext, ...args: A) => Promise<ExitCode | void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const code = await handler(contextOf(command), ...(args.slice(0, -1) as A));
    if (code) process.exitCode = code;
  };
}
