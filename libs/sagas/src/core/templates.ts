import { SagaError } from './saga.errors';

/**
 * `{{ taskId.output.path.to.value }}`, and in workflows from a stored definition `{{ input.path }}`
 * (the start's input); path segments are keys or array indices (`items.0` or `items[0]`).
 */
const TEMPLATE = /\{\{([^{}]*)\}\}/g;
const PATH = String.raw`((?:\.[A-Za-z0-9_$-]+|\[\d+\])*)`;
const OUTPUT_REFERENCE = new RegExp(String.raw`^\s*([A-Za-z0-9_-]{1,100})\.output${PATH}\s*$`);
const INPUT_REFERENCE = new RegExp(String.raw`^\s*input${PATH}\s*$`);

/** `{{ taskId.output.path }}`: a value from the output of an upstream task (or, in a compensation, its own). */
export interface OutputReference {
  kind: 'output';
  /** The whole `{{ … }}` text. */
  text: string;
  taskId: string;
  /** Path inside the task's output; empty for the whole output. */
  path: string[];
}

/** `{{ input.path }}`: a value from the input of a start from a stored definition. */
export interface InputReference {
  kind: 'input';
  text: string;
  /** Path inside the start's input; empty for the whole input. */
  path: string[];
}

export type TemplateReference = OutputReference | InputReference;

export type ParsedTemplate = { ok: true; ref: TemplateReference } | { ok: false; text: string };

export interface TemplateOptions {
  /**
   * `{{ input.path }}` reads the start's input: true in stored definitions (rendered when a saga
   * starts from one). Elsewhere `input` is a task id like any other (`{{ input.output.x }}`), so
   * workflows with a task named `input` mean what they always meant.
   */
  input?: boolean;
}

const pathOf = (text: string): string[] =>
  text
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '');

/** One `{{ … }}` text (its inner part `inner`), or undefined when it is malformed. */
function referenceOf(text: string, inner: string, options: TemplateOptions): TemplateReference | undefined {
  if (options.input) {
    const input = INPUT_REFERENCE.exec(inner);
    if (input) return { kind: 'input', text, path: pathOf(input[1]) };
  }
  const output = OUTPUT_REFERENCE.exec(inner);
  return output ? { kind: 'output', text, taskId: output[1], path: pathOf(output[2]) } : undefined;
}

/** Every `{{ … }}` in a string; those that are not a reference (see TemplateOptions) are reported as malformed. */
export function parseTemplates(value: string, options: TemplateOptions = {}): ParsedTemplate[] {
  const found: ParsedTemplate[] = [];
  for (const m of value.matchAll(TEMPLATE)) {
    const ref = referenceOf(m[0], m[1], options);
    found.push(ref ? { ok: true, ref } : { ok: false, text: m[0] });
  }
  return found;
}

/** Whether a `{{ … }}` text is an input reference (to tell a misplaced one from a malformed one). */
export const isInputReference = (text: string): boolean => referenceOf(text, text.slice(2, -2), { input: true })?.kind === 'input';

/** Every string inside a JSON-like value, with its path (`config.headers.auth`, `config.items[2]`). */
export function collectStrings(value: unknown, at: string, out: { field: string; value: string }[] = []) {
  if (typeof value === 'string') out.push({ field: at, value });
  else if (Array.isArray(value)) value.forEach((v, i) => collectStrings(v, `${at}[${i}]`, out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectStrings(v, `${at}.${k}`, out);
  }
  return out;
}

const notFound = (ref: TemplateReference, why: string) =>
  new SagaError('TEMPLATE_PATH_NOT_FOUND', `${ref.text.trim()}: ${why}`, {
    ...(ref.kind === 'output' ? { taskId: ref.taskId } : { input: true }),
    path: ref.path.join('.'),
  });

/** The value at `ref.path` inside `root`; `where` names the root in messages. */
function walkPath(ref: TemplateReference, root: unknown, where: string): unknown {
  let current = root;
  for (const segment of ref.path) {
    // Own properties only: `constructor` or `__proto__` never resolve to something inherited.
    if (current !== null && typeof current === 'object' && Object.prototype.hasOwnProperty.call(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      throw notFound(ref, `no ${segment} in ${where}`);
    }
  }
  if (current === undefined) throw notFound(ref, `nothing at this path`);
  return current;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** What a reference renders to: `{ value }`, or undefined to leave its text as it is. */
type Source = (ref: TemplateReference) => { value: unknown } | undefined;

function renderString(value: string, options: TemplateOptions, source: Source): unknown {
  const parsed = parseTemplates(value, options);
  if (parsed.length === 0) return value;
  // A string that is exactly one reference takes the referenced value with its JSON type.
  if (parsed.length === 1 && parsed[0].ok && parsed[0].ref.text === value) return (source(parsed[0].ref) ?? { value }).value;
  return value.replace(TEMPLATE, (text, inner: string) => {
    const ref = referenceOf(text, inner, options);
    if (!ref) throw new SagaError('TEMPLATE_PATH_NOT_FOUND', `malformed template reference ${text}`, { reference: inner });
    const found = source(ref);
    return found ? asText(found.value) : text;
  });
}

/** `config` rendered; `onString` sees each string before and after, with its path from `at`. */
function renderValue(
  config: unknown,
  options: TemplateOptions,
  source: Source,
  at = '',
  onString?: (before: string, after: unknown, field: string) => void,
): unknown {
  const walk = (value: unknown, field: string): unknown => {
    if (typeof value === 'string') {
      const after = renderString(value, options, source);
      onString?.(value, after, field);
      return after;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${field}[${i}]`));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      // defineProperty: a `__proto__` key from parsed JSON stays a plain key.
      for (const [k, v] of Object.entries(value)) {
        Object.defineProperty(out, k, { value: walk(v, `${field}.${k}`), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  };
  return walk(config, at);
}

/**
 * `config` with every `{{ taskId.output.path }}` in its string values replaced from the outputs of
 * upstream tasks. Throws SagaError TEMPLATE_PATH_NOT_FOUND when a referenced value does not exist.
 */
export function renderTemplates<T = unknown>(config: T, outputsByTaskId: Readonly<Record<string, unknown>>): T {
  return renderValue(config, {}, (ref) => {
    if (ref.kind !== 'output') return undefined;
    if (!Object.prototype.hasOwnProperty.call(outputsByTaskId, ref.taskId)) throw notFound(ref, `no output of task ${ref.taskId}`);
    return { value: walkPath(ref, outputsByTaskId[ref.taskId], `the output of ${ref.taskId}`) };
  }) as T;
}

/** Why an input reference could not be rendered: `field` is where in the start's input. */
export interface InputTemplateProblem {
  field: string;
  message: string;
}

const templateTexts = (value: unknown): string[] =>
  collectStrings(value, '').flatMap(({ value: s }) => parseTemplates(s).map((p) => (p.ok ? p.ref.text : p.text)));

/**
 * A stored definition's `config` for one start: every `{{ input.path }}` replaced from the start's
 * `input`, `{{ taskId.output.path }}` left for the executor to render when the task runs. `at`
 * names the config in messages (`tasks[0].config`). A value of the input is data, never a template:
 * one that would put a `{{ … }}` into the config is a problem, as is a path the input lacks.
 */
export function renderInputTemplates<T = unknown>(config: T, input: unknown, at: string): { value: T; problems: InputTemplateProblem[] } {
  const problems: InputTemplateProblem[] = [];
  const fieldOf = (ref: TemplateReference) => ['input', ...ref.path].join('.');
  // The input references of the string being rendered: rendered, and missing (with why).
  let rendered: TemplateReference[] = [];
  let missing: { ref: TemplateReference; why: string }[] = [];
  const source: Source = (ref) => {
    if (ref.kind !== 'input') return undefined;
    try {
      const value = walkPath(ref, input, "the start's input");
      rendered.push(ref);
      return { value };
    } catch (err) {
      if (!(err instanceof SagaError)) throw err;
      missing.push({ ref, why: err.message });
      return undefined;
    }
  };
  const value = renderValue(config, { input: true }, source, at, (before, after, field) => {
    for (const m of missing) problems.push({ field: fieldOf(m.ref), message: `missing, but ${field} reads it (${m.why})` });
    // What is left to render later must be exactly the output references the definition wrote.
    const kept = parseTemplates(before, { input: true }).flatMap((p) => (p.ok && p.ref.kind === 'input' ? [] : [p.ok ? p.ref.text : p.text]));
    if (rendered.length > 0 && missing.length === 0 && templateTexts(after).join('\n') !== kept.join('\n')) {
      problems.push({ field: fieldOf(rendered[0]), message: `puts {{ … }} into ${field}, where it would be read as a template reference` });
    }
    rendered = [];
    missing = [];
  });
  return { value: value as T, problems };
}
