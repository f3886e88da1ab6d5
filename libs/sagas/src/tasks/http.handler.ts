import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { HttpCircuits } from './http-circuits';
import { PermanentTaskError, TaskHandler } from './task-handler';

const tracer = trace.getTracer('@app/sagas');

/** An answer the breaker counts as a success: the origin answered (a 4xx is the caller's fault). */
interface Answer {
  status: number;
  body: unknown;
}

/**
 * Real HTTP: config { url, method = 'POST', headers, body, timeoutMs }. Sends an Idempotency-Key
 * derived from the saga, task and phase, so retries are safe for servers that honour it.
 * Output: { status, body }. 5xx, network errors and timeouts are retryable and count against the
 * origin's circuit breaker (then `CIRCUIT_OPEN`, retryable, without a request); 4xx are permanent.
 * The step's signal (timeout, cancel, shutdown) aborts the request: the connection is closed.
 * Each request is a client span in the step's trace, whose context goes out as W3C `traceparent`.
 */
export function httpHandler(circuits: HttpCircuits): TaskHandler {
  return async (ctx) => {
    const c = ctx.config;
    if (typeof c.url !== 'string' || !/^https?:\/\//.test(c.url)) throw new PermanentTaskError('http: config.url must be an http(s) URL');
    let url: URL;
    try {
      url = new URL(c.url);
    } catch {
      throw new PermanentTaskError(`http: config.url is not a valid URL: ${c.url}`);
    }
    const timeoutMs = c.timeoutMs === undefined ? undefined : Number(c.timeoutMs);
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new PermanentTaskError('http: config.timeoutMs must be a positive number');
    const method = String(c.method ?? 'POST').toUpperCase();
    const what = `http: ${method} ${c.url}`;
    ctx.signal.throwIfAborted();
    // The step attempt's span (the breaker may run `send` outside its async context).
    const step = context.active();

    const send = async (): Promise<Answer> => {
      const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
      const signal = timeout ? AbortSignal.any([ctx.signal, timeout]) : ctx.signal;
      const span = tracer.startSpan(method, { kind: SpanKind.CLIENT }, step);
      if (span.isRecording()) {
        span.setAttributes({
          'http.request.method': method,
          // Without credentials or query (they may hold secrets).
          'url.full': `${url.origin}${url.pathname}`,
          'server.address': url.hostname,
          'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        });
      }
      const traceHeaders: Record<string, string> = {};
      propagation.inject(trace.setSpan(step, span), traceHeaders);
      try {
        const res = await fetch(url, {
          method,
          headers: {
            'content-type': 'application/json',
            'idempotency-key': ctx.idempotencyKey,
            ...traceHeaders,
            ...((c.headers as Record<string, string>) ?? {}),
          },
          body: method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(c.body ?? {}),
          signal,
        });
        const text = await res.text();
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: keep the text
        }
        span.setAttribute('http.response.status_code', res.status);
        if (res.status >= 500) throw new Error(`${what} answered ${res.status}`);
        return { status: res.status, body };
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
        // The step's own abort (timeout, cancel, shutdown) keeps its reason, as fetch gives it.
        if (ctx.signal.aborted) throw err;
        if (timeout?.aborted) throw new Error(`${what} timed out after ${timeoutMs} ms`);
        // fetch's network errors say only "fetch failed"; the cause names it (ECONNREFUSED, ...).
        const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
        if (cause && typeof cause === 'object') throw new Error(`${what} failed: ${cause.code ?? cause.message}`);
        throw err;
      } finally {
        span.end();
      }
    };

    const answer = await circuits.call(url.origin, ctx.signal, send);
    if (answer.status >= 400) throw new PermanentTaskError(`${what} answered ${answer.status}`);
    return answer;
  };
}
