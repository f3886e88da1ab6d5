import { Attributes, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('@app/event-store');

/**
 * Runs one append call (of any number of events and streams) in a span, when it is part of a
 * trace: a request, a saga's start or step. An append with no trace around it (or with tracing
 * off: no SDK registered, so no context is ever active) costs one context lookup and makes no
 * span, which keeps loops and benchmarks free of one-span traces.
 */
export function inAppendSpan<T>(operation: string, attributes: () => Attributes, append: () => Promise<T>): Promise<T> {
  const parent = context.active();
  if (!trace.getSpanContext(parent)) return append();
  const span = tracer.startSpan(
    `event-store ${operation}`,
    { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, ...attributes() } },
    parent,
  );
  return context.with(trace.setSpan(parent, span), append).then(
    (result) => {
      span.end();
      return result;
    },
    (err: unknown) => {
      const code = (err as { code?: unknown })?.code;
      if (typeof code === 'string') span.setAttribute('error.type', code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      span.end();
      throw err;
    },
  );
}
