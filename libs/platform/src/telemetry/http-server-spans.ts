import type { NextFunction, Request, Response } from 'express';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('@app/platform');

/** Probes and scrapes: frequent, and nothing in them to follow. */
const UNTRACED = new Set(['/health', '/ready', '/metrics']);

/**
 * Express middleware (installed by main.ts when tracing is on): a server span per request, child
 * of the caller's W3C `traceparent` when it sends one, active while the request is handled, so a
 * saga started by it belongs to its trace. Named `METHOD /route/:param` once the route is known.
 */
export function httpServerSpans(): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    if (UNTRACED.has(req.path)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'url.path': req.path,
          'url.scheme': req.protocol,
          'network.protocol.version': req.httpVersion,
          ...(req.socket.remoteAddress ? { 'client.address': req.socket.remoteAddress } : {}),
          ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
        },
      },
      parent,
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = (req.route as { path?: unknown } | undefined)?.path;
      if (typeof route === 'string') {
        span.setAttribute('http.route', `${req.baseUrl}${route}`);
        span.updateName(`${req.method} ${req.baseUrl}${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      // The client went away before the answer was complete.
      if (!res.writableFinished) span.setAttribute('error.type', 'aborted');
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(trace.setSpan(parent, span), next);
  };
}
