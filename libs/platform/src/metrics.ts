import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** prom-client default metrics that are gauges with a counter's `_total` suffix. */
const COUNTER_NAMED_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** `saga_http_circuit_state` values. */
const HTTP_CIRCUIT_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** A counter of sagas by `saga_type` and one more label. */
const sagaCounter = <L extends string>(registry: Registry, name: string, help: string, label: L) =>
  new Counter({ name, help, labelNames: ['saga_type', label], registers: [registry] });

/** The platform's Prometheus metrics (one registry per process). */
export class PlatformMetrics {
  readonly registry = new Registry();
  readonly appends = new Counter({ name: 'saga_events_appended_total', help: 'Events appended to the store', registers: [this.registry] });
  readonly appendLatency = new Histogram({
    name: 'saga_append_duration_seconds',
    help: 'Latency of event-store appends',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly stepOutcomes = sagaCounter(this.registry, 'saga_step_outcomes_total', 'Saga step outcomes (succeeded, failed, retry_scheduled)', 'outcome');
  readonly compensationOutcomes = sagaCounter(this.registry, 'saga_compensation_outcomes_total', 'Compensation outcomes (succeeded, failed, skipped)', 'outcome');
  readonly sagaTransitions = sagaCounter(this.registry, 'saga_status_transitions_total', 'Sagas reaching a status', 'status');
  readonly sagasByStatus = new Gauge({ name: 'saga_sagas', help: 'Sagas by status (read model)', labelNames: ['saga_type', 'status'], registers: [this.registry] });
  readonly projectionLag = new Gauge({ name: 'saga_projection_lag_events', help: 'Events a projection has not applied yet', labelNames: ['projection'], registers: [this.registry] });
  readonly pendingWork = new Gauge({ name: 'saga_pending_work', help: 'Sagas with pending work (due: due now)', labelNames: ['state'], registers: [this.registry] });
  readonly agentDesiredInstances = new Gauge({
    name: 'saga_agent_desired_instances',
    help: "Instances an agent's scaling policy asks for (a KEDA / HPA target)",
    labelNames: ['agent', 'tenant'],
    registers: [this.registry],
  });
  readonly agentTasks = new Gauge({ name: 'saga_agent_tasks', help: 'Agent tasks in the queue by state (pending, delayed, locked)', labelNames: ['capability', 'state'], registers: [this.registry] });
  readonly agentQueueAge = new Gauge({
    name: 'saga_agent_queue_oldest_pending_seconds',
    help: 'Age of the oldest agent task waiting to be taken, per capability (0 when none waits)',
    labelNames: ['capability'],
    registers: [this.registry],
  });
  readonly deadLetters = new Gauge({
    name: 'saga_dead_letters',
    help: 'Dead letters waiting for a replay, per consumer group (counted up to 1000)',
    labelNames: ['group'],
    registers: [this.registry],
  });
  readonly agentTaskWait = new Histogram({
    name: 'saga_agent_task_wait_seconds',
    help: 'How long agent tasks waited in the queue before an instance locked them',
    labelNames: ['capability'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly agentScalings = new Counter({ name: 'saga_agent_scaling_events_total', help: 'Changes of agents\' desired instances', labelNames: ['direction'], registers: [this.registry] });
  readonly httpRequests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** The `http` task handler's circuit breaker per target origin, read from `httpCircuitSource` at each scrape. */
  readonly httpCircuitState = new Gauge({
    name: 'saga_http_circuit_state',
    help: 'Circuit breaker of the http task handler per target origin (0 closed, 1 half-open, 2 open)',
    labelNames: ['origin'],
    registers: [this.registry],
    collect: () => {
      // Reset first: an origin whose breaker was forgotten must not keep its last value.
      this.httpCircuitState.reset();
      for (const c of this.httpCircuitSource()) this.httpCircuitState.set({ origin: c.origin }, HTTP_CIRCUIT_STATE_VALUE[c.state]);
    },
  });
  /** Where `saga_http_circuit_state` reads the breakers: set once by the wiring (`() => httpCircuitStates(registry)`). */
  httpCircuitSource: () => ReadonlyArray<{ origin: string; state: keyof typeof HTTP_CIRCUIT_STATE_VALUE }> = () => [];

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which `promtool check metrics` refuses; their totals are the sums
    // of the per-type gauges prom-client also exports (nodejs_active_handles{type}, ...).
    for (const name of COUNTER_NAMED_GAUGES) this.registry.removeSingleMetric(name);
  }
}
