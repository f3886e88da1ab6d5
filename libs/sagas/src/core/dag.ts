import { PriorityName, STEP_PRIORITY } from './saga.types';
import { collectStrings, isInputReference, parseTemplates } from './templates';

/** One task of a task-workflow saga; it becomes the step named by its id. */
export interface WorkflowTask {
  id: string;
  handler: string;
  dependsOn: string[];
  config?: unknown;
  priority?: PriorityName;
  retry?: { maxAttempts: number; backoffMs: number };
  timeoutMs?: number;
  /** Agent tasks only: held back `delayMs`; fails EXPIRED when no instance took it within `ttlMs`. */
  queue?: { delayMs?: number; ttlMs?: number };
  compensation?: { handler: string; config?: unknown };
}

/** `agent:<capability>`: the task is queued for any agent of the tenant with that capability. */
export const AGENT_HANDLER_PREFIX = 'agent:';
export const CAPABILITY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,99}$/;

/** The `wait` handler: the task waits for a signal (`config: { signal, timeoutMs? }`); no effect runs. */
export const WAIT_HANDLER = 'wait';
export const SIGNAL_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

/** The signal a `wait` task waits for, or undefined for any other task. */
export function waitSignalOf(task: { handler?: unknown; config?: unknown }): string | undefined {
  if (task.handler !== WAIT_HANDLER) return undefined;
  const signal = (task.config as { signal?: unknown } | undefined)?.signal;
  return typeof signal === 'string' ? signal : undefined;
}

/** The capability of an `agent:<capability>` handler name, or undefined for any other handler. */
export function agentCapabilityOf(handler: unknown): string | undefined {
  if (typeof handler !== 'string' || !handler.startsWith(AGENT_HANDLER_PREFIX)) return undefined;
  const capability = handler.slice(AGENT_HANDLER_PREFIX.length);
  return CAPABILITY_PATTERN.test(capability) ? capability : undefined;
}

const ONE_YEAR_MS = 31_536_000_000;

export interface TaskWorkflowInput {
  name: string;
  /** 1..64, default 4. */
  maxParallel?: number;
  tasks: WorkflowTask[];
}

export interface ValidationProblem {
  field: string;
  message: string;
}

export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
export const MAX_PARALLEL_LIMIT = 64;
export const DEFAULT_WORKFLOW_MAX_PARALLEL = 4;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface WorkflowValidationOptions {
  /** A stored definition: `{{ input.path }}` reads the input of each start (any path; checked when one starts). */
  inputTemplates?: boolean;
}

/**
 * Everything wrong with a task workflow, as `{ field, message }` (empty when it can run):
 * ids, duplicates, unknown dependencies, cycles, unknown handlers, template references that name
 * an unknown task or one that is not an ancestor (a compensation may also read its own task's
 * output), and maxParallel bounds.
 */
export function validateWorkflow(input: TaskWorkflowInput, knownHandlers: readonly string[], options: WorkflowValidationOptions = {}): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  if (!isObject(input)) return [{ field: '', message: 'must be an object' }];

  if (input.maxParallel !== undefined && (!Number.isInteger(input.maxParallel) || input.maxParallel < 1 || input.maxParallel > MAX_PARALLEL_LIMIT)) {
    add('maxParallel', `must be an integer from 1 to ${MAX_PARALLEL_LIMIT}`);
  }
  if (!Array.isArray(input.tasks)) {
    add('tasks', 'must be an array');
    return problems;
  }
  if (input.tasks.length === 0) {
    add('tasks', 'must contain at least one task');
    return problems;
  }

  const handlers = new Set(knownHandlers);
  const indexById = new Map<string, number>();
  const tasks = input.tasks as unknown[];

  tasks.forEach((raw, i) => {
    const f = `tasks[${i}]`;
    if (!isObject(raw)) {
      add(f, 'must be an object');
      return;
    }
    const t = raw as Partial<WorkflowTask>;
    if (typeof t.id !== 'string' || !TASK_ID_PATTERN.test(t.id)) {
      add(`${f}.id`, 'must match ^[A-Za-z0-9_-]{1,100}$');
    } else if (indexById.has(t.id)) {
      add(`${f}.id`, `duplicate task id ${t.id} (also tasks[${indexById.get(t.id)}])`);
    } else {
      indexById.set(t.id, i);
    }
    const capability = agentCapabilityOf(t.handler);
    if (typeof t.handler === 'string' && t.handler.startsWith(AGENT_HANDLER_PREFIX) && !capability) {
      add(`${f}.handler`, `agent handler must be agent:<capability> with a capability matching ${CAPABILITY_PATTERN}`);
    } else if (t.handler === WAIT_HANDLER) {
      const config = (isObject(t.config) ? t.config : {}) as { signal?: unknown; timeoutMs?: unknown };
      if (typeof config.signal !== 'string' || !SIGNAL_NAME_PATTERN.test(config.signal)) {
        add(`${f}.config.signal`, `a wait task needs config.signal matching ${SIGNAL_NAME_PATTERN.source}`);
      }
      if (config.timeoutMs !== undefined && (!Number.isInteger(config.timeoutMs) || (config.timeoutMs as number) < 1 || (config.timeoutMs as number) > ONE_YEAR_MS)) {
        add(`${f}.config.timeoutMs`, `must be an integer from 1 to ${ONE_YEAR_MS}`);
      }
    } else if (!capability && (typeof t.handler !== 'string' || !handlers.has(t.handler))) add(`${f}.handler`, `unknown handler ${String(t.handler)}`);
    if (t.compensation !== undefined) {
      if (!isObject(t.compensation)) add(`${f}.compensation`, 'must be an object');
      else if (typeof t.compensation.handler !== 'string' || !handlers.has(t.compensation.handler)) {
        add(`${f}.compensation.handler`, `unknown handler ${String(t.compensation.handler)}`);
      }
    }
    if (t.queue !== undefined) {
      if (!isObject(t.queue)) add(`${f}.queue`, 'must be an object');
      else {
        if (!capability) add(`${f}.queue`, 'only agent:<capability> tasks are queued');
        const { delayMs, ttlMs } = t.queue;
        if (delayMs !== undefined && (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > ONE_YEAR_MS)) {
          add(`${f}.queue.delayMs`, `must be an integer from 0 to ${ONE_YEAR_MS}`);
        }
        if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > ONE_YEAR_MS)) {
          add(`${f}.queue.ttlMs`, `must be an integer from 1 to ${ONE_YEAR_MS}`);
        }
      }
    }
    if (t.priority !== undefined && !Object.prototype.hasOwnProperty.call(STEP_PRIORITY, t.priority)) {
      add(`${f}.priority`, 'must be one of LOW, NORMAL, HIGH, CRITICAL');
    }
    if (t.retry !== undefined) {
      if (!isObject(t.retry)) add(`${f}.retry`, 'must be an object');
      else {
        if (!Number.isInteger(t.retry.maxAttempts) || t.retry.maxAttempts < 1 || t.retry.maxAttempts > 100) {
          add(`${f}.retry.maxAttempts`, 'must be an integer from 1 to 100');
        }
        if (!Number.isInteger(t.retry.backoffMs) || t.retry.backoffMs < 0 || t.retry.backoffMs > 3_600_000) {
          add(`${f}.retry.backoffMs`, 'must be an integer from 0 to 3600000');
        }
      }
    }
    if (t.timeoutMs !== undefined && (!Number.isInteger(t.timeoutMs) || t.timeoutMs < 1 || t.timeoutMs > 86_400_000)) {
      add(`${f}.timeoutMs`, 'must be an integer from 1 to 86400000');
    }
    if (t.dependsOn !== undefined && (!Array.isArray(t.dependsOn) || t.dependsOn.some((d) => typeof d !== 'string'))) {
      add(`${f}.dependsOn`, 'must be an array of task ids');
    }
  });

  // The graph over the tasks that have a valid, unique id; edges only to known ids.
  const deps = new Map<string, string[]>();
  tasks.forEach((raw, i) => {
    if (!isObject(raw)) return;
    const t = raw as Partial<WorkflowTask>;
    if (typeof t.id !== 'string' || indexById.get(t.id) !== i) return;
    const known: string[] = [];
    if (Array.isArray(t.dependsOn)) {
      t.dependsOn.forEach((d, j) => {
        if (typeof d !== 'string') return;
        if (!indexById.has(d)) add(`tasks[${i}].dependsOn[${j}]`, `unknown task id ${d}`);
        else if (!known.includes(d)) known.push(d);
      });
    }
    deps.set(t.id, known);
  });

  for (const cycle of findCycles(deps)) {
    add(`tasks[${indexById.get(cycle[0])}].dependsOn`, `cycle: ${[...cycle, cycle[0]].join(' -> ')}`);
  }

  // Template references: a known task that is an ancestor (transitively) of the referencing task;
  // a compensation runs after its task succeeded, so it may read that task's output too.
  const expected = options.inputTemplates ? '{{ taskId.output.path }} or {{ input.path }}' : '{{ taskId.output.path }}';
  tasks.forEach((raw, i) => {
    if (!isObject(raw)) return;
    const t = raw as Partial<WorkflowTask>;
    const valid = typeof t.id === 'string' && indexById.get(t.id) === i;
    const ancestors = valid ? ancestorsOf(t.id!, deps) : new Set<string>();
    const withOwn = valid ? new Set([...ancestors, t.id!]) : ancestors;
    const strings = [
      ...collectStrings(t.config, `tasks[${i}].config`).map((s) => ({ ...s, readable: ancestors })),
      ...(isObject(t.compensation) ? collectStrings(t.compensation.config, `tasks[${i}].compensation.config`).map((s) => ({ ...s, readable: withOwn })) : []),
    ];
    for (const { field, value, readable } of strings) {
      for (const parsed of parseTemplates(value, { input: options.inputTemplates })) {
        if (!parsed.ok) {
          if (isInputReference(parsed.text)) add(field, `${parsed.text} reads the start's input, which only workflows started from a stored definition have`);
          else add(field, `malformed template reference ${parsed.text}: expected ${expected}`);
        } else if (parsed.ref.kind === 'input') continue;
        else if (!indexById.has(parsed.ref.taskId)) add(field, `${parsed.ref.text} references unknown task ${parsed.ref.taskId}`);
        else if (!readable.has(parsed.ref.taskId)) {
          add(field, `${parsed.ref.text} references ${parsed.ref.taskId}, which is not an upstream dependency of ${String(t.id)}`);
        }
      }
    }
  });

  return problems;
}

/** Transitive dependencies of `id` (cycle-safe). */
export function ancestorsOf(id: string, deps: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(deps.get(id) ?? [])];
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (seen.has(d)) continue;
    seen.add(d);
    stack.push(...(deps.get(d) ?? []));
  }
  return seen;
}

/** Each cycle once, as the ids along it (`a` depends on `b` … depends on `a`), found by depth-first search. */
export function findCycles(deps: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  // Iterative DFS: a long chain of tasks must not overflow the call stack.
  for (const root of deps.keys()) {
    if (state.has(root)) continue;
    const stack: { id: string; next: number }[] = [{ id: root, next: 0 }];
    state.set(root, 'visiting');
    path.push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const children = deps.get(top.id) ?? [];
      if (top.next < children.length) {
        const child = children[top.next++];
        const s = state.get(child);
        if (s === 'visiting') cycles.push(path.slice(path.indexOf(child)));
        else if (s === undefined) {
          state.set(child, 'visiting');
          path.push(child);
          stack.push({ id: child, next: 0 });
        }
      } else {
        state.set(top.id, 'done');
        path.pop();
        stack.pop();
      }
    }
  }
  return cycles;
}
