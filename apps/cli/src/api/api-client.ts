// One generated description of the contract for both tools (npm run console:api writes it).
import type { components, paths } from '../../../console/src/api/schema';
import { CliError, EXIT } from '../exit-codes';

/** The schemas of the API (generated from the OpenAPI document: apps/console/scripts/generate-api.ts). */
export type Schemas = components['schemas'];

type Method = 'get' | 'post' | 'delete';
/** The paths that have an operation for `M`. */
export type PathWith<M extends Method> = { [P in keyof paths]: paths[P][M] extends undefined ? never : P }[keyof paths];
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Parameters<O> = O extends { parameters: infer X } ? X : never;

type PathOption<O> = Parameters<O> extends { path: infer X } ? { path: X } : { path?: undefined };
type QueryOption<O> = Parameters<O> extends { query?: infer X } ? ([X] extends [undefined] ? { query?: undefined } : { query?: X }) : { query?: undefined };
type BodyOption<O> = O extends { requestBody: { content: { 'application/json': infer B } } }
  ? { body: B }
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? { body?: B }
    : { body?: undefined };
/** What a call of operation `O` takes: its path and query parameters, its JSON body, extra headers. */
export type CallOptions<O> = PathOption<O> & QueryOption<O> & BodyOption<O> & { headers?: Record<string, string> };

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : undefined;
/** The JSON body of `O`'s success answers (200, 201, 202; 204 is `undefined`). */
export type SuccessOf<O> = O extends { responses: infer R } ? { [K in keyof R]: K extends 200 | 201 | 202 | 204 ? JsonOf<R[K]> : never }[keyof R] : never;

export interface Answer<T> {
  status: number;
  data: T;
}

/** A problem+json body, as every error of the API is answered. */
export type Problem = Schemas['Problem'];

export interface ApiClientOptions {
  /** The API's base URL (`http://127.0.0.1:3000`, or with a path prefix behind a proxy). */
  baseUrl: string;
  apiKey: string;
  /** For the admin key: the tenant its writes act for (`X-Tenant-Id`). */
  tenant?: string;
  /** Per request, until the whole answer is read (default 30 s). */
  timeoutMs?: number;
}

/** Connection failures and 5xx mean "unavailable" (exit 3); any other error status is a refusal (exit 1). */
function refusal(status: number, problem: Partial<Problem> | undefined, text: string): CliError {
  const detail = problem?.detail ?? problem?.title ?? (text.trim().slice(0, 200) || `HTTP ${status}`);
  const fields = (problem?.errors ?? []).map((e) => `\n  ${e.field}: ${e.message}`).join('');
  const exitCode = status >= 500 ? EXIT.UNREACHABLE : EXIT.REFUSED;
  return Object.assign(new CliError(exitCode, `${detail} (HTTP ${status}${problem?.title ? ` ${problem.title}` : ''})${fields}`), { status, problem });
}

function parseProblem(text: string): Partial<Problem> | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object' ? (body as Partial<Problem>) : undefined;
  } catch {
    return undefined;
  }
}

/** A fetch that failed before an answer: why, in words a person can act on. */
export function unreachable(baseUrl: string, err: unknown, timeoutMs?: number): CliError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return new CliError(EXIT.UNREACHABLE, `the API at ${baseUrl} did not answer within ${Math.round((timeoutMs ?? 0) / 1000)} s`);
  const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return new CliError(EXIT.UNREACHABLE, `cannot reach the API at ${baseUrl} (${why}); check --url or SAGA_API_URL`);
}

/**
 * The CLI's client of the public /v1 API. Paths, parameters, bodies and answers are typed from the
 * generated OpenAPI declarations, so a contract change breaks the CLI's typecheck. Every error
 * becomes a CliError with the exit code it stands for and the problem's detail.
 */
export class ApiClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async get<P extends PathWith<'get'>>(path: P, options: CallOptions<Operation<P, 'get'>>): Promise<SuccessOf<Operation<P, 'get'>>> {
    return (await this.call('get', path, options)).data;
  }

  async post<P extends PathWith<'post'>>(path: P, options: CallOptions<Operation<P, 'post'>>): Promise<SuccessOf<Operation<P, 'post'>>> {
    return (await this.call('post', path, options)).data;
  }

  async delete<P extends PathWith<'delete'>>(path: P, options: CallOptions<Operation<P, 'delete'>>): Promise<SuccessOf<Operation<P, 'delete'>>> {
    return (await this.call('delete', path, options)).data;
  }

  /** Any operation, with the answer's status (e.g. 201 stored vs 200 unchanged). */
  async call<M extends Method, P extends PathWith<M>>(method: M, path: P, options: CallOptions<Operation<P, M>>): Promise<Answer<SuccessOf<Operation<P, M>>>> {
    const { path: params, query, body, headers } = options as { path?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown; headers?: Record<string, string> };
    const url = this.url(path, params, query);
    const init: RequestInit = {
      method: method.toUpperCase(),
      headers: { ...this.headers(body !== undefined ? { 'Content-Type': 'application/json', Accept: 'application/json' } : { Accept: 'application/json' }), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, init);
      status = res.status;
      text = await res.text();
    } catch (err) {
      throw unreachable(this.baseUrl, err, this.timeoutMs);
    }
    if (status >= 400) throw refusal(status, parseProblem(text), text);
    if (!text) return { status, data: undefined as SuccessOf<Operation<P, M>> };
    try {
      return { status, data: JSON.parse(text) as SuccessOf<Operation<P, M>> };
    } catch {
      throw new CliError(EXIT.UNREACHABLE, `the answer of ${method.toUpperCase()} ${url} is not JSON: is ${this.baseUrl} the Saga Platform API?`);
    }
  }

  /**
   * Opens a `text/event-stream` GET (the live saga route): the Response once its head has arrived
   * (200 with the stream, or 204), an error for any other status. `signal` ends the stream.
   */
  async openStream<P extends PathWith<'get'>>(path: P, options: CallOptions<Operation<P, 'get'>> & { signal: AbortSignal; connectTimeoutMs?: number }): Promise<Response> {
    const { path: params, headers, signal, connectTimeoutMs = this.timeoutMs } = options as { path?: Record<string, unknown>; headers?: Record<string, string>; signal: AbortSignal; connectTimeoutMs?: number };
    const url = this.url(path, params, undefined);
    // The timeout bounds the wait for the head only: the stream itself may stay open for hours.
    const controller = new AbortController();
    const abort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(() => controller.abort(new DOMException('no answer in time', 'TimeoutError')), connectTimeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { headers: { ...this.headers({ Accept: 'text/event-stream' }), ...headers }, signal: controller.signal });
    } catch (err) {
      signal.removeEventListener('abort', abort);
      if (signal.aborted) throw err;
      throw unreachable(this.baseUrl, err, connectTimeoutMs);
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 400) {
      const text = await res.text().catch(() => '');
      throw refusal(res.status, parseProblem(text), text);
    }
    return res;
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return {
      Authorization: `Bearer ${this.options.apiKey}`,
      ...(this.options.tenant ? { 'X-Tenant-Id': this.options.tenant } : {}),
      'User-Agent': 'saga-cli',
      ...extra,
    };
  }

  private url(path: string, params: Record<string, unknown> | undefined, query: Record<string, unknown> | undefined): string {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params?.[name] ?? '')));
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
    const qs = search.toString();
    return `${this.baseUrl}${filled}${qs ? `?${qs}` : ''}`;
  }
}
