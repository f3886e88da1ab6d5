import {
  Attributes,
  Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  Span,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * A saga is one trace: its start span's W3C `traceparent` is stored in the SagaStarted event's
 * metadata, and every step attempt, compensation and agent task, on whichever worker and after any
 * number of restarts, is a child of it. Without an SDK (tracing off) the tracer is the API's no-op:
 * spans are never recorded, no context is ever valid, and nothing is serialised or stored.
 */
export const sagaTracer = trace.getTracer('@app/sagas');

/** The stored form is W3C whatever propagators the deployment configured for its HTTP calls. */
const w3c = new W3CTraceContextPropagator();

/** The `traceparent` of the span in `ctx`; undefined when it has none (tracing off). */
export function traceparentOf(ctx: Context): string | undefined {
  const span = trace.getSpanContext(ctx);
  if (!span || !isSpanContextValid(span)) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** A context whose parent is the span a stored `traceparent` names; undefined without a valid one. */
export function contextOf(traceparent: string | undefined): Context | undefined {
  if (!traceparent) return undefined;
  const ctx = w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** Runs `fn` with `ctx` active (as it is, without one). */
export function withContext<T>(ctx: Context | undefined, fn: () => T): T {
  return ctx ? context.with(ctx, fn) : fn();
}

/**
 * Runs `fn` in a new span (active while it runs), child of `parent`, ended when `fn` settles; a
 * throw marks it failed. `attributes` is only built when the span is recorded.
 */
export function inSpan<T>(name: string, parent: Context, attributes: () => Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = sagaTracer.startSpan(name, undefined, parent);
  if (span.isRecording()) span.setAttributes(attributes());
  return context.with(trace.setSpan(parent, span), () => fn(span)).then(
    (result) => {
      span.end();
      return result;
    },
    (err: unknown) => {
      failSpan(span, err);
      span.end();
      throw err;
    },
  );
}

/** Marks `span` failed with `err` (its `code`, when it has one, as `error.type`). */
export function failSpan(span: Span, err: unknown, code?: string): void {
  if (!span.isRecording()) return;
  const type = code ?? (err as { code?: unknown } | undefined)?.code;
  span.setAttribute('error.type', typeof type === 'string' ? type : ((err as Error)?.name ?? 'Error'));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
}
