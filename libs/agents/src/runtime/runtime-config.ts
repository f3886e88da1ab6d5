import { existsSync, readFileSync } from 'fs';
import { dirname, join, parse, resolve } from 'path';
import { z } from 'zod';

/**
 * What the `local` runtime may run: the *deployment* maps an agent `type` to a command (DESIGN.md
 * "Agents", Runtime). A command never comes from an API request, which would let a client run code
 * on the server. File (env `AGENT_RUNTIME_CONFIG`):
 *
 *   { "types": { "<agentType>": { "command": ["executable", "arg", ...], "env"?: {..}, "cwd"?: "dir" } } }
 *
 * A relative `cwd` is relative to the file's directory; a relative executable with a slash, to `cwd`.
 */

export interface AgentTypeCommand {
  /** argv: the executable, then its arguments (spawned without a shell). */
  command: string[];
  /** Added to the instance's environment. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface RuntimeConfig {
  types: Record<string, AgentTypeCommand>;
  /** The file it was read from (none: built-in defaults only). */
  source?: string;
}

export const RUNTIME_CONFIG_ENV = 'AGENT_RUNTIME_CONFIG';

/** The example agent that ships with the repository (examples/agents/example-agent.ts). */
export const EXAMPLE_AGENT_TYPE = 'example';

/** The message of a wrong type: "is required" when absent, else what it must be. */
const must = (what: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`) });

const agentTypeSchema = z.strictObject(
  {
    command: z
      .array(z.string(must('a string')).min(1, 'must not be empty'), must('an array of strings (argv: executable, then arguments)'))
      .min(1, 'must name at least the executable'),
    env: z.record(z.string(), z.string(must('a string')), must('an object of string values')).optional(),
    cwd: z.string(must('a string')).min(1, 'must not be empty').optional(),
  },
  must('an object { command, env?, cwd? }'),
);

const fileSchema = z.strictObject(
  { types: z.record(z.string().min(1, 'an agent type must not be empty'), agentTypeSchema, must('an object of agent types')) },
  must('an object { "types": { ... } }'),
);

/** The built-in mapping, used for a type that the file (if any) does not name. */
export function defaultRuntimeTypes(root = repositoryRoot()): Record<string, AgentTypeCommand> {
  return {
    [EXAMPLE_AGENT_TYPE]: {
      command: [process.execPath, '-r', '@swc-node/register', join(root, 'examples', 'agents', 'example-agent.ts')],
      // `-r @swc-node/register` is resolved from the working directory: the repository's node_modules.
      cwd: root,
    },
  };
}

/**
 * Reads the mapping from `path` (default: env AGENT_RUNTIME_CONFIG; unset: the built-in defaults
 * only). Throws an Error naming the file and the bad field; a configured file that is missing is
 * an error too, not a silent fallback.
 */
export function loadRuntimeConfig(path: string | undefined = process.env[RUNTIME_CONFIG_ENV]): RuntimeConfig {
  const defaults = defaultRuntimeTypes();
  if (path === undefined || path.trim() === '') return { types: defaults };
  const file = resolve(path.trim());

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`agent runtime config ${file} cannot be read: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`agent runtime config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${fieldOf(issue)}: ${messageOf(issue)}`);
    throw new Error(`agent runtime config ${file} is invalid: ${problems.join('; ')}`);
  }

  const types: Record<string, AgentTypeCommand> = { ...defaults };
  for (const [type, entry] of Object.entries(parsed.data.types)) {
    types[type] = { ...entry, cwd: entry.cwd === undefined ? undefined : resolve(dirname(file), entry.cwd) };
  }
  return { types, source: file };
}

/** The command for an agent type; undefined: not run locally, left to the `external` runtime. */
export function commandFor(config: RuntimeConfig, type: string): AgentTypeCommand | undefined {
  return Object.prototype.hasOwnProperty.call(config.types, type) ? config.types[type] : undefined;
}

/** `types.python.command[0]`, or `(root)` for the whole document. */
function fieldOf(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => (path ? `${path}.${key}` : key)).join(', ');
  }
  return path || '(root)';
}

function messageOf(issue: z.core.$ZodIssue): string {
  return issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
}

/**
 * The repository (or, in the image, the application) root: the nearest directory above this file
 * with the platform's package.json, else the working directory.
 */
function repositoryRoot(): string {
  for (let dir = __dirname; dir !== parse(dir).root; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'saga-platform') return dir;
    } catch {
      // A package.json that does not parse is not ours; keep looking.
    }
  }
  return process.cwd();
}
