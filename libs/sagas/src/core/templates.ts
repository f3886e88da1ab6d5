import { SagaError } from './saga.errors';

/** `{{ taskId.output.path.to.value }}`; path segments are keys or array indices (`items.0` or `items[0]`). */
const TEMPLATE = /\{\{([^{}]*)\}\}/g;
const REFERENCE = /^\s*([A-Za-z0-9_-]{1,100})\.output((?:\.[A-Za-z0-9_$-]+|\[\d+\])*)\s*$/;

export interface TemplateReference {
  /** The whole `{{ … }}` text. */
  text: string;
  taskId: string;
  /** Path inside the task's output; empty for the whole output. */
  path: string[];
}

export type ParsedTemplate = { ok: true; ref: TemplateReference } | { ok: false; text: string };

/** Every `{{ … }}` in a string; those that are not `taskId.output[.path]` are reported as malformed. */
export function parseTemplates(value: string): ParsedTemplate[] {
  const found: ParsedTemplate[] = [];
  for (const m of value.matchAll(TEMPLATE)) {
    const ref = REFERENCE.exec(m[1]);
    if (!ref) {
      found.push({ ok: false, text: m[0] });
      continue;
    }
    const path = ref[2]
      .replace(/\[(\d+)\]/g, '.$1')
      .split('.')
      .filter((p) => p !== '');
    found.push({ ok: true, ref: { text: m[0], taskId: ref[1], path } });
  }
  return found;
}

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
  new SagaError('TEMPLATE_PATH_NOT_FOUND', `${ref.text.trim()}: ${why}`, { taskId: ref.taskId, path: ref.path.join('.') });

function resolve(ref: TemplateReference, outputsByTaskId: Readonly<Record<string, unknown>>): unknown {
  if (!Object.prototype.hasOwnProperty.call(outputsByTaskId, ref.taskId)) throw notFound(ref, `no output of task ${ref.taskId}`);
  let current: unknown = outputsByTaskId[ref.taskId];
  for (const segment of ref.path) {
    // Own properties only: `constructor` or `__proto__` never resolve to something inherited.
    if (current !== null && typeof current === 'object' && Object.prototype.hasOwnProperty.call(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      throw notFound(ref, `no ${segment} in the output of ${ref.taskId}`);
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

function renderString(value: string, outputsByTaskId: Readonly<Record<string, unknown>>): unknown {
  const parsed = parseTemplates(value);
  if (parsed.length === 0) return value;
  // A string that is exactly one reference takes the referenced value with its JSON type.
  if (parsed.length === 1 && parsed[0].ok && parsed[0].ref.text === value) return resolve(parsed[0].ref, outputsByTaskId);
  return value.replace(TEMPLATE, (text, inner: string) => {
    const one = parseTemplates(text)[0];
    if (!one?.ok) {
      throw new SagaError('TEMPLATE_PATH_NOT_FOUND', `malformed template reference ${text}`, { reference: inner });
    }
    return asText(resolve(one.ref, outputsByTaskId));
  });
}

/**
 * `config` with every `{{ taskId.output.path }}` in its string values replaced from the outputs of
 * upstream tasks. Throws SagaError TEMPLATE_PATH_NOT_FOUND when a referenced value does not exist.
 */
export function renderTemplates<T = unknown>(config: T, outputsByTaskId: Readonly<Record<string, unknown>>): T {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return renderString(value, outputsByTaskId);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      // defineProperty: a `__proto__` key from parsed JSON stays a plain key.
      for (const [k, v] of Object.entries(value)) {
        Object.defineProperty(out, k, { value: walk(v), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  };
  return walk(config) as T;
}
