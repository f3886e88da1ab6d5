import { PermanentTaskError, TaskHandler, TaskHandlerRegistry } from './task-handler';

const noop: TaskHandler = async () => ({});

const echo: TaskHandler = async (ctx) => ({ ...ctx.config });

/** Waits `ms` (config.ms, default 100), honouring the step's timeout. */
const delay: TaskHandler = async (ctx) => {
  const ms = Number(ctx.config.ms ?? ctx.config.delayMs ?? 100);
  if (!Number.isFinite(ms) || ms < 0) throw new PermanentTaskError('delay: config.ms must be a non-negative number');
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error(`delay aborted: ${String(ctx.signal.reason ?? 'aborted')}`));
    });
  });
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

/**
 * Real HTTP: config { url, method = 'POST', headers, body, timeoutMs }. Sends an Idempotency-Key
 * derived from the saga, task and phase, so retries are safe for servers that honour it.
 * Output: { status, body }. 5xx and network errors are retryable; 4xx are permanent.
 */
const http: TaskHandler = async (ctx) => {
  const c = ctx.config;
  if (typeof c.url !== 'string' || !/^https?:\/\//.test(c.url)) throw new PermanentTaskError('http: config.url must be an http(s) URL');
  const method = String(c.method ?? 'POST').toUpperCase();
  const signals = [ctx.signal];
  if (c.timeoutMs !== undefined) signals.push(AbortSignal.timeout(Number(c.timeoutMs)));
  const res = await fetch(c.url, {
    method,
    headers: {
      'content-type': 'application/json',
      'idempotency-key': ctx.idempotencyKey,
      ...((c.headers as Record<string, string>) ?? {}),
    },
    body: method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(c.body ?? {}),
    signal: AbortSignal.any(signals),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (res.status >= 500) throw new Error(`http: ${method} ${c.url} answered ${res.status}`);
  if (res.status >= 400) throw new PermanentTaskError(`http: ${method} ${c.url} answered ${res.status}`);
  return { status: res.status, body };
};

export function registerBuiltinHandlers(registry: TaskHandlerRegistry): TaskHandlerRegistry {
  return registry
    .register('noop', noop)
    .register('echo', echo)
    .register('delay', delay)
    .register('fail', fail)
    .register('transform', transform)
    .register('http', http);
}

