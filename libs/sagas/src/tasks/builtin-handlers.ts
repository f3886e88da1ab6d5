import { setTimeout as sleep } from 'timers/promises';
import { HttpCircuitBreakerOptions, HttpCircuits, HttpCircuitState } from './http-circuits';
import { httpHandler } from './http.handler';
import { PermanentTaskError, TaskHandler, TaskHandlerRegistry } from './task-handler';

/** Longer timers fire at once in Node. */
const MAX_TIMER_MS = 2_147_483_647;

const noop: TaskHandler = async () => ({});

const echo: TaskHandler = async (ctx) => ({ ...ctx.config });

/** Waits `ms` (config.ms, default 100); the step's signal (timeout, cancel, shutdown) ends it at once. */
const delay: TaskHandler = async (ctx) => {
  const ms = Number(ctx.config.ms ?? ctx.config.delayMs ?? 100);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) throw new PermanentTaskError(`delay: config.ms must be a number from 0 to ${MAX_TIMER_MS}`);
  try {
    // Node clears the timer when the signal aborts: nothing is left running.
    await sleep(ms, undefined, { signal: ctx.signal });
  } catch (err) {
    throw ctx.signal.aborted ? (ctx.signal.reason ?? err) : err;
  }
  return { waitedMs: ms };
};

/**
 * Fails with config.message; with `config.failTimes: N` only the first N attempts fail
 * (then it succeeds), so retries can be exercised.
 */
const fail: TaskHandler = async (ctx) => {
  const failTimes = ctx.config.failTimes === undefined ? Infinity : Number(ctx.config.failTimes);
  if (ctx.attempt <= failTimes) throw new Error(String(ctx.config.message ?? 'task failed (fail handler)'));
  return { succeededOnAttempt: ctx.attempt };
};

/**
 * Builds its output from config: `config.output` (templates already rendered), optionally
 * `pick` (list of keys) of `config.input`, or `merge` (list of objects).
 */
const transform: TaskHandler = async (ctx) => {
  const c = ctx.config;
  if (c.output !== undefined) return c.output;
  if (Array.isArray(c.merge)) return Object.assign({}, ...c.merge.filter((x) => x && typeof x === 'object'));
  if (Array.isArray(c.pick) && c.input && typeof c.input === 'object') {
    const input = c.input as Record<string, unknown>;
    return Object.fromEntries((c.pick as string[]).filter((k) => k in input).map((k) => [k, input[k]]));
  }
  return c.input ?? {};
};

/** How the built-in handlers behave; every field has a default. */
export interface BuiltinHandlerOptions {
  http?: {
    /** The per-origin circuit breaker of the `http` handler (see `HttpCircuits`). */
    circuitBreaker?: Partial<HttpCircuitBreakerOptions>;
  };
}

/** The `http` handler's breakers of each registry the built-ins were registered in. */
const circuitsByRegistry = new WeakMap<TaskHandlerRegistry, HttpCircuits>();

export function registerBuiltinHandlers(registry: TaskHandlerRegistry, options: BuiltinHandlerOptions = {}): TaskHandlerRegistry {
  const circuits = new HttpCircuits(options.http?.circuitBreaker);
  circuitsByRegistry.get(registry)?.shutdown();
  circuitsByRegistry.set(registry, circuits);
  return registry
    .register('noop', noop)
    .register('echo', echo)
    .register('delay', delay)
    .register('fail', fail)
    .register('transform', transform)
    .register('http', httpHandler(circuits));
}

/**
 * The `http` handler's circuit breakers in `registry`, one per target origin it has called
 * (for `saga_http_circuit_state` and operators); empty when the built-ins are not registered there.
 */
export function httpCircuitStates(registry: TaskHandlerRegistry): HttpCircuitState[] {
  return circuitsByRegistry.get(registry)?.states() ?? [];
}
