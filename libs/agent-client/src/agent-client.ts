import { AgentClientError } from './agent-client.error';
import {
  CompleteRequest,
  ExtendRequest,
  ExtendResponse,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  PolledTask,
  PollRequest,
  ProgressRequest,
} from './protocol.types';

export interface AgentClientOptions {
  /** The API's root, e.g. `http://localhost:3000` (a trailing `/v1` is accepted too). */
  baseUrl: string;
  /** An `agent` role key: it names the agent, so no request carries an agent id. */
  key: string;
  /** Defaults to the global `fetch` (Node 20); injectable for tests and proxies. */
  fetch?: typeof fetch;
  /**
   * Upper bound of one call (default 10 s); a long poll gets its `waitMs` on top. A silent server
   * must turn into an error the run loop can retry, never into an instance that hangs.
   */
  requestTimeoutMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * The REST work protocol, one method per route and nothing more: no retries, no state. Refusals
 * throw {@link AgentClientError}; network faults throw what `fetch` threw. `runAgent` builds the
 * retrying, heartbeating loop on top of it.
 */
export class AgentClient {
  private readonly root: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: AgentClientOptions) {
    this.root = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  heartbeat(req: HeartbeatRequest, opts: CallOptions = {}): Promise<HeartbeatResponse> {
    return this.post<HeartbeatResponse>('/v1/agent/heartbeat', req, opts);
  }

  /** Long poll: resolves with the tasks locked for this instance, or `[]` after `waitMs`. */
  async poll(req: PollRequest, opts: CallOptions = {}): Promise<PolledTask[]> {
    const res = await this.post<{ tasks?: PolledTask[] }>('/v1/agent/tasks/poll', req, opts, req.waitMs ?? 0);
    return res?.tasks ?? [];
  }

  async complete(taskId: string, req: CompleteRequest, opts: CallOptions = {}): Promise<void> {
    await this.post(this.taskPath(taskId, 'complete'), req, opts);
  }

  async fail(taskId: string, req: FailRequest, opts: CallOptions = {}): Promise<void> {
    await this.post(this.taskPath(taskId, 'fail'), req, opts);
  }

  extend(taskId: string, req: ExtendRequest, opts: CallOptions = {}): Promise<ExtendResponse> {
    return this.post<ExtendResponse>(this.taskPath(taskId, 'extend'), req, opts);
  }

  async progress(taskId: string, req: ProgressRequest, opts: CallOptions = {}): Promise<void> {
    await this.post(this.taskPath(taskId, 'progress'), req, opts);
  }

  private taskPath(taskId: string, action: string): string {
    return `/v1/agent/tasks/${encodeURIComponent(taskId)}/${action}`;
  }

  private async post<T>(path: string, body: unknown, opts: CallOptions, extraTimeoutMs = 0): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs + extraTimeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const res = await this.fetchFn(this.root + path, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.options.key}`,
        'content-type': 'application/json',
        accept: 'application/json, application/problem+json',
      },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    if (!res.ok) throw AgentClientError.fromResponse(res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
