/**
 * Building blocks of table-driven malformed-request tests: hostile values, JSON with literals that
 * JavaScript cannot hold (2^63, 1e309) or keys it treats specially (`__proto__`), and deep edits of
 * a valid body.
 */

/** Who sends a request: no key, a key of the test tenant, or the platform admin key (ADMIN_API_KEY). */
export type Who = 'none' | 'client' | 'operator' | 'admin';

export interface BadRequest {
  /** Short description (test title). */
  label: string;
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  path: string;
  who: Who;
  /** Sent as JSON (serialized with `toJson`, so `lit()` values and own `__proto__` keys survive). */
  json?: unknown;
  /** Sent as is, with `contentType` (default application/json). */
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** The status API.md gives for it; `4xx` when any client error is right. Default 400. */
  status?: number | '4xx';
}

export const SQL_INJECTIONS = ["'; drop table events; --", '1 OR 1=1'];
export const LONG = 'x'.repeat(100_000);
export const NUL = 'a\u0000b';

const LITERAL = '\u0001';
/** A number written into the JSON text exactly as given (`lit('9223372036854775808')`, `lit('1e309')`). */
export const lit = (text: string) => `${LITERAL}${text}${LITERAL}`;
export const TWO_POW_63 = lit('9223372036854775808');
export const ABOVE_DOUBLE = lit('1e309');

/** JSON text of `value`, with `lit()` strings unquoted. */
export function toJson(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001(.*?)\\u0001"/g, '$1');
}

/** Integer fields: negative, fractional, huge, beyond a double, NaN-like strings, other types. */
export const BAD_INTEGERS: unknown[] = [-1, 1.5, 1e308, TWO_POW_63, ABOVE_DOUBLE, 'NaN', 'Infinity', '12', null, [], {}, true];

export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * A copy of `base` with the value at `path` (dots, array indices as numbers) replaced, or removed
 * when `value` is REMOVE. Keys such as `__proto__` become own properties, as JSON.parse makes them.
 */
export const REMOVE = Symbol('remove');
export function edit<T>(base: T, path: string, value: unknown): T {
  const copy = clone(base) as Record<string, unknown>;
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys[keys.length - 1];
  if (value === REMOVE) delete at[last];
  else Object.defineProperty(at, last, { value, enumerable: true, configurable: true, writable: true });
  return copy as T;
}

/** `{"a":{"a":…}}` nested `depth` levels, written without recursion. */
export const deeplyNested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** A JSON body just over `bytes`. */
export const oversized = (bytes: number) => `{"padding":"${'x'.repeat(bytes)}"}`;

/**
 * Bodies that are not a JSON object at all, or not JSON, or too big or too deep: what every route
 * that takes a body must refuse before looking at its fields.
 */
export function unusableBodies(valid: unknown): Omit<BadRequest, 'method' | 'path' | 'who'>[] {
  return [
    { label: 'null body', raw: 'null' },
    { label: 'array body', raw: '[]' },
    { label: 'array of the valid body', raw: `[${toJson(valid)}]` },
    { label: 'string body', raw: '"text"' },
    { label: 'number body', raw: '42' },
    { label: 'boolean body', raw: 'true' },
    { label: 'truncated JSON', raw: '{"a":' },
    { label: 'single-quoted JSON', raw: "{'a': 1}" },
    { label: 'trailing comma', raw: '{"a": 1,}' },
    { label: 'NaN literal', raw: '{"a": NaN}' },
    { label: 'text/plain', raw: toJson(valid), contentType: 'text/plain', status: 415 },
    { label: 'form-encoded', raw: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded', status: 415 },
    { label: 'XML', raw: '<a>1</a>', contentType: 'application/xml', status: 415 },
    { label: 'multipart', raw: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n', contentType: 'multipart/form-data; boundary=b', status: 415 },
    { label: 'JSON in latin1', raw: toJson(valid), contentType: 'application/json; charset=latin1', status: 415 },
    { label: 'unknown content-encoding', raw: toJson(valid), headers: { 'Content-Encoding': 'x-unknown' }, status: 415 },
    { label: 'gzip that is not gzip', raw: toJson(valid), headers: { 'Content-Encoding': 'gzip' }, status: '4xx' },
    { label: 'over 1 MiB', raw: oversized(1024 * 1024 + 16), status: 413 },
    { label: 'nested 5,000 deep', raw: deeplyNested(5000) },
    { label: '__proto__ key', raw: toJson(valid).replace(/^\{/, '{"__proto__":{"polluted":true},') },
    { label: 'constructor.prototype key', raw: toJson(valid).replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},') },
    { label: 'constructor key', raw: toJson(valid).replace(/^\{/, '{"constructor":1,') },
    { label: 'prototype key', raw: toJson(valid).replace(/^\{/, '{"prototype":{"polluted":true},') },
    { label: 'unknown field', raw: toJson(valid).replace(/^\{/, '{"unknownField":1,') },
  ];
}
