import { createServer, IncomingMessage, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { waitFor } from '@app/database';
import { runTask } from '../definitions/run-task';
import { StepContext, StepFailure } from '../definitions/saga-definition';
import { httpCircuitStates, registerBuiltinHandlers } from './builtin-handlers';
import { HttpCircuitBreakerOptions } from './http-circuits';
import { PermanentTaskError, TaskHandlerContext, TaskHandlerRegistry } from './task-handler';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A local server whose answer the test changes as it goes; counts the requests that reached it. */
async function serve(initial: Answer) {
  let answer = initial;
  let hits = 0;
  const closedSockets: Array<Promise<void>> = [];
  const server = createServer((req, res) => {
    hits++;
    closedSockets.push(new Promise((resolve) => req.socket.once('close', () => resolve())));
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}/hook`,
    hits: () => hits,
    answerWith: (a: Answer) => (answer = a),
    /** Resolves when the socket of the n-th request (from 1) is closed. */
    socketClosed: (n: number) => closedSockets[n - 1],
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
type Server = Awaited<ReturnType<typeof serve>>;

const status = (code: number): Answer => (_req, res) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ code }));
const never: Answer = () => undefined;

function setup(circuitBreaker: Partial<HttpCircuitBreakerOptions> = {}) {
  const registry = registerBuiltinHandlers(new TaskHandlerRegistry(), { http: { circuitBreaker } });
  const http = registry.get('http')!;
  const call = (config: Record<string, unknown>, signal: AbortSignal = new AbortController().signal) => {
    const ctx: TaskHandlerContext = { sagaId: 's', tenantId: 't', taskId: 'x', taskName: 'x', attempt: 1, config, upstream: {}, idempotencyKey: 'k', signal };
    return http(ctx);
  };
  const stateOf = (origin: string) => httpCircuitStates(registry).find((s) => s.origin === origin);
  return { registry, call, stateOf };
}

const servers: Server[] = [];
async function server(answer: Answer): Promise<Server> {
  const s = await serve(answer);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('http handler: every call is interruptible', () => {
  it('aborts a request the server never answers: the server sees its connection closed', async () => {
    const remote = await server(never);
    const { call, stateOf } = setup();
    const cancel = new AbortController();
    const result = call({ url: remote.url, body: { a: 1 } }, cancel.signal);
    result.catch(() => undefined);
    await waitFor(() => remote.hits() === 1, { what: 'the request to reach the server' });

    const abortedAt = Date.now();
    const reason = new Error('saga cancelled');
    cancel.abort(reason);
    await expect(result).rejects.toBe(reason);
    // The server never answers: only the abort can end the call (bound generous for loaded CI machines).
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    await remote.socketClosed(1);
    // A cancel says nothing about the remote.
    expect(stateOf(remote.origin)).toEqual({ origin: remote.origin, state: 'closed', failures: 0 });
  });

  it('aborts on config.timeoutMs, closing the connection, and counts it against the origin', async () => {
    const remote = await server(never);
    const { call, stateOf } = setup();
    await expect(call({ url: remote.url, timeoutMs: 50 })).rejects.toThrow(`http: POST ${remote.url} timed out after 50 ms`);
    await remote.socketClosed(1);
    expect(stateOf(remote.origin)).toMatchObject({ state: 'closed', failures: 1 });
  });

  it("counts the step's own timeout against the origin, but not a shutdown", async () => {
    const remote = await server(never);
    const { call, stateOf } = setup();
    for (const reason of [new StepFailure('timeout after 50 ms', true, 'TIMEOUT'), new Error('worker shutting down')]) {
      const step = new AbortController();
      const result = call({ url: remote.url }, step.signal);
      result.catch(() => undefined);
      await waitFor(() => remote.hits() === (reason instanceof StepFailure ? 1 : 2));
      step.abort(reason);
      await expect(result).rejects.toBe(reason);
    }
    expect(stateOf(remote.origin)).toMatchObject({ state: 'closed', failures: 1 });
  });

  it('does not call at all when the signal is already aborted', async () => {
    const remote = await server(status(200));
    const { call } = setup();
    const reason = new Error('cancelled before');
    await expect(call({ url: remote.url }, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(remote.hits()).toBe(0);
  });
});

describe('http handler: circuit breaker per origin', () => {
  it('opens after repeated 5xx, then fails fast with CIRCUIT_OPEN without calling the server', async () => {
    const remote = await server(status(500));
    const { call, stateOf } = setup({ resetTimeout: 60_000 });
    for (let i = 0; i < 5; i++) await expect(call({ url: remote.url })).rejects.toThrow(`http: POST ${remote.url} answered 500`);
    expect(stateOf(remote.origin)).toEqual({ origin: remote.origin, state: 'open', failures: 5 });

    const failure = await call({ url: remote.url }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(failure).not.toBeInstanceOf(PermanentTaskError); // retryable: the step's retry policy decides
    expect(remote.hits()).toBe(5);
  });

  it('closes again after a successful half-open probe; a failed probe keeps it open', async () => {
    const remote = await server(status(503));
    const { call, stateOf } = setup({ resetTimeout: 100 });
    for (let i = 0; i < 5; i++) await expect(call({ url: remote.url })).rejects.toThrow('answered 503');
    expect(stateOf(remote.origin)?.state).toBe('open');

    // The probe fails: open again, one request more.
    await waitFor(() => stateOf(remote.origin)?.state === 'half_open', { what: 'half-open' });
    await expect(call({ url: remote.url })).rejects.toThrow('answered 503');
    expect(stateOf(remote.origin)?.state).toBe('open');
    expect(remote.hits()).toBe(6);
    await expect(call({ url: remote.url })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });

    // The remote is back: the next probe closes the breaker and calls flow again.
    remote.answerWith(status(200));
    await waitFor(() => stateOf(remote.origin)?.state === 'half_open', { what: 'half-open again' });
    await expect(call({ url: remote.url })).resolves.toEqual({ status: 200, body: { code: 200 } });
    expect(stateOf(remote.origin)?.state).toBe('closed');
    await expect(call({ url: remote.url })).resolves.toEqual({ status: 200, body: { code: 200 } });
    expect(remote.hits()).toBe(8);
  });

  it('does not count 4xx answers: the caller is at fault, the origin is up', async () => {
    const remote = await server(status(404));
    const { call, stateOf } = setup();
    for (let i = 0; i < 10; i++) await expect(call({ url: remote.url })).rejects.toBeInstanceOf(PermanentTaskError);
    expect(stateOf(remote.origin)).toEqual({ origin: remote.origin, state: 'closed', failures: 0 });
    expect(remote.hits()).toBe(10);
  });

  it('opens on network errors too', async () => {
    const gone = await server(never);
    await gone.close();
    const { call, stateOf } = setup();
    for (let i = 0; i < 5; i++) await expect(call({ url: gone.url })).rejects.toThrow(`http: POST ${gone.url} failed: ECONNREFUSED`);
    await expect(call({ url: gone.url })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
  });

  it('keeps one breaker per origin', async () => {
    const down = await server(status(500));
    const up = await server(status(200));
    const { call, registry } = setup({ resetTimeout: 60_000 });
    for (let i = 0; i < 5; i++) await expect(call({ url: down.url })).rejects.toThrow('answered 500');
    await expect(call({ url: down.url })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    await expect(call({ url: `${up.origin}/other/path`, method: 'GET' })).resolves.toMatchObject({ status: 200 });

    expect(httpCircuitStates(registry)).toEqual(
      expect.arrayContaining([
        { origin: down.origin, state: 'open', failures: 5 },
        { origin: up.origin, state: 'closed', failures: 0 },
      ]),
    );
    // Registries do not share breakers.
    await expect(setup().call({ url: down.url })).rejects.toThrow('answered 500');
  });

  it('reaches the step as a retryable failure with errorCode CIRCUIT_OPEN', async () => {
    const remote = await server(status(500));
    const { registry } = setup({ resetTimeout: 60_000 });
    const step = (attempt: number) =>
      runTask({ sagaId: 's', tenantId: 't', step: 'x', attempt, phase: 'run', commandId: 's:x:run', outputs: {}, signal: new AbortController().signal } as unknown as StepContext, registry, {
        taskId: 'x',
        name: 'x',
        handler: 'http',
        config: { url: remote.url },
        upstream: {},
      });
    for (let attempt = 1; attempt <= 5; attempt++) await expect(step(attempt)).rejects.toMatchObject({ code: 'TASK_FAILED', retryable: true });
    const failure = await step(6).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StepFailure);
    expect(failure).toMatchObject({ code: 'CIRCUIT_OPEN', retryable: true });
  });
});
