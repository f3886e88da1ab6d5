import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

/** How long a stop waits for the last spans to leave. */
const FLUSH_ON_STOP_MS = 3_000;

/** The running OpenTelemetry SDK of this process. */
export interface Telemetry {
  /** Exports the spans still buffered and stops; never holds a stop up longer than a few seconds. */
  shutdown(): Promise<void>;
}

/**
 * Whether the environment asks for traces, in OpenTelemetry's own variables: an OTLP endpoint,
 * and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) return false;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return !(env.OTEL_TRACES_EXPORTER ?? '').split(',').some((e) => e.trim() === 'none');
}

/**
 * Starts the official Node SDK when the environment asks for traces (see tracingRequested), as the
 * first thing a process does; otherwise does nothing, and the libraries' spans stay the API's
 * no-ops (no SDK registered: nothing recorded, no context stored or sent).
 *
 * Traces only, over OTLP/HTTP with JSON, unless the standard variables choose another protocol or
 * exporter (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL, OTEL_TRACES_EXPORTER: the SDK then configures
 * itself from them). Metrics stay Prometheus' (`/metrics`) and logs pino's unless
 * OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for OTLP as well. The service is `serviceName`
 * unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name it.
 */
export function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): Telemetry | undefined {
  if (!tracingRequested(env)) return undefined;
  const exporterFromEnv = Boolean(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || env.OTEL_TRACES_EXPORTER);
  const namedByEnv = Boolean(env.OTEL_SERVICE_NAME) || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    ...(namedByEnv ? {} : { serviceName }),
    ...(exporterFromEnv ? {} : { traceExporter: new OTLPTraceExporter() }),
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    // The platform makes its own spans (requests, sagas, steps, appends, `http` calls).
    instrumentations: [],
  });
  sdk.start();
  return {
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_ON_STOP_MS).unref()));
      await Promise.race([sdk.shutdown().catch(() => undefined), late]);
      clearTimeout(timer);
    },
  };
}
