import * as http from 'http';

/** A non-2xx answer (or a network error) of a JSON call, with what the server said. */
export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${method} ${path} → ${status || 'network error'}${describe(body)}`);
  }
}

function describe(body: unknown): string {
  if (body === undefined || body === '') return '';
  if (typeof body === 'string') return `: ${body.slice(0, 300)}`;
  const p = body as { title?: string; detail?: string; errors?: unknown; code?: string };
  if (p.title || p.detail) return `: ${[p.title, p.detail, p.code].filter(Boolean).join(' — ')}${p.errors ? ` ${JSON.stringify(p.errors).slice(0, 300)}` : ''}`;
  return `: ${JSON.stringify(body).slice(0, 300)}`;
}

/**
 * A small JSON client over node:http with its own keep-alive connection pool (one per simulated
 * process: each agent instance gets one, as separate processes would). Bearer key per client.
 */
export class JsonClient {
  readonly agent: http.Agent;
  private closed = false;

  constructor(
    readonly baseUrl: string,
    private readonly key: string | undefined,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  withKey(key: string, maxSockets: number): JsonClient {
    return new JsonClient(this.baseUrl, key, maxSockets);
  }

  /** Resolves with the parsed body of a 2xx answer; throws HttpError otherwise. */
  async call<T = unknown>(method: string, path: string, body?: unknown, options: { headers?: Record<string, string> } = {}): Promise<T> {
    const { status, body: answer } = await this.raw(method, path, body, options);
    if (status < 200 || status >= 300) throw new HttpError(method, path, status, answer);
    return answer as T;
  }

  /** Any answer: `{ status, body }` (body parsed when JSON). Network errors throw HttpError with status 0. */
  raw(method: string, path: string, body?: unknown, options: { headers?: Record<string, string> } = {}): Promise<{ status: number; body: unknown }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...options.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new HttpError(method, path, 0, err.message)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            if (text && /json/.test(String(res.headers['content-type']))) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', (err) => reject(new HttpError(method, path, 0, this.closed ? 'client closed' : err.message)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Ends the pool's sockets, aborting requests in flight (a pending long poll). */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
