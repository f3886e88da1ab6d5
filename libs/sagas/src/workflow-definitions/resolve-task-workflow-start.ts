import { MAX_WORKFLOW_VERSION, WORKFLOW_DEFINITION_NAME_PATTERN } from '@app/domain';
import { TaskWorkflowInput, ValidationProblem, WorkflowTask } from '../core/dag';
import { renderInputTemplates } from '../core/templates';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { SagaInputError } from '../executor/start';
import { loadWorkflowDefinition } from './workflow-definition-store';

/** A task-workflow start from a stored definition: `{ definition: { name, version? }, input? }` (+ onFailure?, startAt?). */
export interface DefinitionStartBody {
  definition: { name: string; version?: number };
  input?: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * The saga input of a start from a stored definition: the version's tasks with `{{ input.path }}`
 * rendered (so the executor runs them as any task workflow, and a running saga keeps the version
 * it started with), the definition it came from and the caller's `input`.
 */
export interface DefinitionTaskWorkflowInput extends TaskWorkflowInput {
  definition: { name: string; version: number };
  input: Record<string, unknown>;
  onFailure?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether a task-workflow start body names a stored definition instead of listing its tasks. */
export const isDefinitionStart = (body: unknown): body is DefinitionStartBody => isObject(body) && body.definition !== undefined;

/** Fields of a start that lists its tasks, which a start from a definition takes from the definition. */
const DEFINITION_FIELDS = ['name', 'maxParallel', 'tasks'];

function problemsOf(body: Record<string, unknown>): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const ref = body.definition;
  if (!isObject(ref)) problems.push({ field: 'definition', message: 'must be an object { name, version? }' });
  else {
    if (typeof ref.name !== 'string' || !WORKFLOW_DEFINITION_NAME_PATTERN.test(ref.name)) {
      problems.push({ field: 'definition.name', message: `must match ${WORKFLOW_DEFINITION_NAME_PATTERN.source}` });
    }
    if (ref.version !== undefined && (!Number.isSafeInteger(ref.version) || (ref.version as number) < 1 || (ref.version as number) > MAX_WORKFLOW_VERSION)) {
      problems.push({ field: 'definition.version', message: `must be an integer from 1 to ${MAX_WORKFLOW_VERSION}` });
    }
  }
  if (body.input !== undefined && !isObject(body.input)) problems.push({ field: 'input', message: 'must be an object' });
  for (const field of DEFINITION_FIELDS) {
    if (body[field] !== undefined) problems.push({ field, message: 'a start from a stored definition takes it from the definition' });
  }
  return problems;
}

/**
 * The saga input of a task-workflow start body, for the tenant: a body with `definition` is
 * resolved against the tenant's stored definitions (the latest version when `version` is absent)
 * into a DefinitionTaskWorkflowInput; a body that lists its tasks is returned as it is. The API's
 * start and a schedule's fire both start through here. Throws SagaInputError (400) for an unknown
 * definition or version, a malformed reference, and an `input` that lacks a path the definition
 * reads. The executor then validates the result as any task-workflow start.
 */
export async function resolveTaskWorkflowStart(
  commands: Pick<DomainCommandDispatcher, 'load'>,
  tenantId: string,
  body: unknown,
): Promise<TaskWorkflowInput | DefinitionTaskWorkflowInput> {
  if (!isDefinitionStart(body)) return body as TaskWorkflowInput;
  const refused = problemsOf(body);
  if (refused.length) throw new SagaInputError(refused);
  const { definition: ref, input = {}, ...rest } = body;
  const stored = await loadWorkflowDefinition(commands, tenantId, ref.name);
  if (!stored) throw new SagaInputError([{ field: 'definition.name', message: `unknown workflow definition ${ref.name}` }]);
  const version = stored.versions.find((v) => v.version === (ref.version ?? stored.latestVersion));
  if (!version) {
    throw new SagaInputError([{ field: 'definition.version', message: `workflow definition ${ref.name} has no version ${ref.version} (latest: ${stored.latestVersion})` }]);
  }
  const { description: _description, tasks, ...options } = version.definition as { description?: string; tasks: WorkflowTask[] } & Record<string, unknown>;
  const problems: ValidationProblem[] = [];
  const render = <T>(config: T, at: string): T => {
    if (config === undefined) return config;
    const rendered = renderInputTemplates(config, input, at);
    problems.push(...rendered.problems);
    return rendered.value;
  };
  const resolved = tasks.map((task, i) => ({
    ...task,
    ...(task.config !== undefined ? { config: render(task.config, `tasks[${i}].config`) } : {}),
    ...(task.compensation ? { compensation: { ...task.compensation, ...(task.compensation.config !== undefined ? { config: render(task.compensation.config, `tasks[${i}].compensation.config`) } : {}) } } : {}),
  }));
  if (problems.length) throw new SagaInputError(problems);
  return {
    name: ref.name,
    // The definition's maxParallel and onFailure; the start's own onFailure (and startAt) win.
    ...options,
    ...rest,
    tasks: resolved,
    definition: { name: ref.name, version: version.version },
    input,
  };
}
