import type { components, paths } from './schema';

/*
 * A typed fetch over the generated `paths` of the REST contract (schema.d.ts, `npm run console:api`).
 * Paths, path parameters, query, body and answer types all come from the OpenAPI document, so a
 * renamed route or field fails the console's typecheck. No DOM and no React here: the file is also
 * compiled by the repository's own tsconfig.
 */

export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];

type Method = 'get' | 'post' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type PathsWith<M extends Method> = { [P in keyof paths]: paths[P][M] extends undefined | never ? never : P }[keyof paths];

type OkStatus = 200 | 201 | 202 | 204;
type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : undefined;
/** The JSON of an operation's 2xx answers. */
export type OkBody<O> = O extends { responses: infer R } ? JsonOf<R[Extract<keyof R, OkStatus>]> : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? ([Q] extends [never | undefined] ? never : Q) : never;
type PathParamsOf<O> = O extends { parameters: { path: infer P } } ? ([P] extends [never | undefined] ? never : P) : never;
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

type Options<O> = ([PathParamsOf<O>] extends [never] ? { params?: undefined } : { params: PathParamsOf<O> }) & {
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  signal?: AbortSignal;
};

/** A refusal from the API: the problem+json body (`detail` is what a person reads). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

/** Fills `{name}` segments of an OpenAPI path. */
export function fillPath(path: string, params: Record<string, string | number> | undefined): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(String(value));
  });
}

export function queryString(query: Record<string, unknown> | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The public /v1 API with the key the person entered. */
export class ApiClient {
  constructor(
    readonly key: string,
    readonly baseUrl = '',
  ) {}

  get<P extends PathsWith<'get'>>(path: P, options: Options<Operation<P, 'get'>>): Promise<OkBody<Operation<P, 'get'>>> {
    return this.request('GET', path, options);
  }

  post<P extends PathsWith<'post'>>(path: P, options: Options<Operation<P, 'post'>>): Promise<OkBody<Operation<P, 'post'>>> {
    return this.request('POST', path, options);
  }

  /** The full URL of a path (for the SSE stream, which is read with fetch, not EventSource). */
  url(path: string, params?: Record<string, string | number>): string {
    return `${this.baseUrl}${fillPath(path, params)}`;
  }

  private async request<T>(method: string, path: string, options: { params?: unknown; query?: unknown; body?: unknown; signal?: AbortSignal }): Promise<T> {
    const url = `${this.url(path, options.params as Record<string, string>)}${queryString(options.query as Record<string, unknown>)}`;
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key}`, Accept: 'application/json' };
    let body: string | undefined;
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body ?? {});
    }
    const res = await fetch(url, { method, headers, body, signal: options.signal });
    const text = await res.text();
    const json = text ? safeJson(text) : undefined;
    if (!res.ok) throw new ApiError(res.status, toProblem(res.status, res.statusText, json, text));
    return json as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toProblem(status: number, statusText: string, json: unknown, text: string): Problem {
  if (json && typeof json === 'object' && 'detail' in json) return json as Problem;
  return { type: 'about:blank', title: statusText || `HTTP ${status}`, status, detail: text.slice(0, 300) || statusText || `HTTP ${status}` };
}

/** The message to show for any failure: the API's `detail` (with the first field error) or the error's text. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const field = err.problem.errors?.[0];
    return field ? `${err.problem.detail} (${field.field}: ${field.message})` : err.problem.detail;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
