import { deferred, delay, waitFor } from '@app/database';
import { silentAgentLogger } from './agent-logger';
import { AgentHandle, runAgent, RunAgentOptions } from './run-agent';
import { FakeWorkServer } from './testing/fake-work-server';

describe('runAgent', () => {
  let server: FakeWorkServer;
  const agents: AgentHandle[] = [];
  const wait = <T>(condition: () => T, what: string) => waitFor(condition, { timeoutMs: 4_000, what });

  beforeEach(async () => (server = await new FakeWorkServer().start()));
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await server.close();
  });

  function start(options: Partial<RunAgentOptions> & Pick<RunAgentOptions, 'handlers'>): AgentHandle {
    const agent = runAgent({
      baseUrl: server.url,
      key: server.key,
      instanceId: 'i-1',
      waitMs: 2_000,
      logger: silentAgentLogger,
      backoff: { baseMs: 10, maxMs: 50 },
      ...options,
    });
    agents.push(agent);
    return agent;
  }

  it('heartbeats first, then completes each task with its handler output', async () => {
    const ids = [server.enqueue({ n: 1 }), server.enqueue({ n: 2 }), server.enqueue({ n: 3 }, 'double')];
    start({
      concurrency: 2,
      handlers: { echo: (task) => ({ echoed: task.input }), double: (task) => ({ n: (task.input as { n: number }).n * 2 }) },
    });
    await wait(() => server.callsTo('complete').length === 3, 'three completions');
    expect(server.calls[0]).toMatchObject({ route: 'heartbeat', body: { instanceId: 'i-1', load: { inFlight: 0 } } });
    expect(server.callsTo('complete', ids[0])[0].body.output).toEqual({ echoed: { n: 1 } });
    expect(server.callsTo('complete', ids[2])[0].body.output).toEqual({ n: 6 });
    const polls = server.callsTo('poll');
    expect(polls[0].body).toMatchObject({ instanceId: 'i-1', maxTasks: 2, waitMs: 2_000, lockMs: 60_000 });
  });

  it('heartbeats at the interval the server returns, reporting tasks in flight', async () => {
    server.heartbeatIntervalMs = 50;
    const release = deferred();
    server.enqueue({});
    start({ handlers: () => release.promise });
    await wait(() => server.callsTo('heartbeat').some((c) => (c.body.load as { inFlight: number }).inFlight === 1), 'a heartbeat with a task in flight');
    await wait(() => server.callsTo('heartbeat').length >= 4, 'heartbeats every 50 ms');
    release.resolve();
  });

  it('reports a throwing handler as a failure with its message, code and retryable: false', async () => {
    const taskId = server.enqueue({});
    const other = server.enqueue({}, 'unknown-capability');
    start({
      handlers: {
        echo: () => {
          throw Object.assign(new Error('bad input'), { code: 'BAD_INPUT', retryable: false });
        },
      },
    });
    await wait(() => server.callsTo('fail').length === 2, 'two failures');
    expect(server.callsTo('fail', taskId)[0].body).toMatchObject({ error: { message: 'bad input', code: 'BAD_INPUT' }, retryable: false });
    expect(server.callsTo('fail', other)[0].body).toMatchObject({ error: { code: 'NO_HANDLER' }, retryable: false });
  });

  it('reports progress, and fails a task whose output the API refuses instead of leaving it locked', async () => {
    const taskId = server.enqueue({});
    server.refuseNext(`complete:${taskId}`, 413);
    start({ handlers: async (_task, ctx) => (await ctx.progress(50, 'halfway'), 'x'.repeat(10)) });
    await wait(() => server.callsTo('fail', taskId).length === 1, 'the failure');
    expect(server.callsTo('progress', taskId)[0].body).toMatchObject({ percent: 50, message: 'halfway' });
    expect(server.callsTo('fail', taskId)[0].body).toMatchObject({ error: { code: 'OUTPUT_REFUSED' }, retryable: false });
  });

  it('extends the lock at about half of lockMs while a long handler runs', async () => {
    const taskId = server.enqueue({});
    start({
      lockMs: 200,
      handlers: () => wait(() => server.callsTo('extend', taskId).length >= 2, 'two extensions').then(() => 'done'),
    });
    await wait(() => server.callsTo('complete', taskId).length === 1, 'the completion');
    expect(server.callsTo('extend', taskId).every((c) => c.status === 200 && c.body.lockMs === 200)).toBe(true);
    expect(server.callsTo('complete', taskId)[0]).toMatchObject({ status: 200, body: { output: 'done' } });
  });

  it('aborts the handler and drops the task when an extension answers LOCK_LOST', async () => {
    const lostId = server.enqueue({ lose: true });
    const aborted = deferred<unknown>();
    start({
      lockMs: 200,
      handlers: (task, ctx) => {
        if (!(task.input as { lose?: boolean }).lose) return 'ok';
        server.loseLock(task.taskId);
        return new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted.resolve(ctx.signal.reason);
            reject(ctx.signal.reason);
          }),
        );
      },
    });
    expect(await aborted.promise).toMatchObject({ status: 409, code: 'LOCK_LOST' });
    // The instance goes on working; the lost task is never reported.
    const next = server.enqueue({});
    await wait(() => server.callsTo('complete', next).length === 1, 'the next task completed');
    expect(server.callsTo('complete', lostId)).toEqual([]);
    expect(server.callsTo('fail', lostId)).toEqual([]);
  });

  it('drops a task whose completion answers TASK_CANCELLED, without failing it', async () => {
    const taskId = server.enqueue({});
    server.refuseNext(`complete:${taskId}`, 409, 'TASK_CANCELLED');
    start({ handlers: () => 'late' });
    await wait(() => server.callsTo('complete', taskId).length === 1, 'the refused completion');
    const after = server.enqueue({});
    await wait(() => server.callsTo('complete', after).length === 1, 'the next completion');
    expect(server.callsTo('fail')).toEqual([]);
  });

  it('stop() stops polling and waits for in-flight tasks before resolving', async () => {
    const release = deferred();
    const running = server.enqueue({});
    const agent = start({ concurrency: 2, handlers: () => release.promise.then(() => 'finished') });
    await wait(() => agent.inFlight() === 1 && server.openPolls() === 1, 'the task running and a poll waiting');
    let stopped = false;
    const stopping = agent.stop().then((s) => ((stopped = true), s));
    await wait(() => server.openPolls() === 0, 'the long poll given up');
    const polls = server.callsTo('poll').length;
    server.enqueue({ notTaken: true });
    await delay(100); // a deliberate pause: nothing may resolve while the handler still runs
    expect(stopped).toBe(false);
    release.resolve();
    expect(await stopping).toEqual({ reason: 'stopped', abandoned: 0 });
    expect(server.callsTo('complete', running)[0].body.output).toBe('finished');
    expect(server.callsTo('poll')).toHaveLength(polls);
    expect(server.pending()).toBe(1);
    expect(await agent.done).toEqual({ reason: 'stopped', abandoned: 0 });
  });

  it('abandons handlers still running at the drain deadline, aborting their signal', async () => {
    const taskId = server.enqueue({});
    let signal: AbortSignal | undefined;
    const agent = start({ drainTimeoutMs: 100, handlers: (_task, ctx) => ((signal = ctx.signal), new Promise(() => undefined)) });
    await wait(() => signal, 'the handler running');
    expect(await agent.stop()).toEqual({ reason: 'stopped', abandoned: 1 });
    expect(signal!.aborted).toBe(true);
    expect(server.callsTo('complete', taskId)).toEqual([]);
  });

  it('stops by itself on 401 (key revoked)', async () => {
    const agent = start({ handlers: () => undefined });
    await wait(() => server.callsTo('poll').length === 1, 'a poll');
    server.revokeKey();
    server.enqueue({});
    expect(await agent.done).toMatchObject({ reason: 'unauthorized', error: { status: 401 } });
  });

  it('stops by itself when the agent is being decommissioned', async () => {
    server.decommission();
    const agent = start({ handlers: () => undefined });
    expect(await agent.done).toMatchObject({ reason: 'decommissioning', error: { code: 'AGENT_DECOMMISSIONING' } });
  });

  it('heartbeats and polls again when a poll says the instance is OFFLINE', async () => {
    const agent = start({ handlers: () => 'ok', waitMs: 50 });
    await wait(() => server.callsTo('poll').length >= 1, 'a first poll');
    server.markOffline(agent.instanceId);
    await wait(() => server.callsTo('poll').some((c) => c.status === 409), 'a refused poll');
    const taskId = server.enqueue({});
    await wait(() => server.callsTo('complete', taskId).length === 1, 'the task done after heartbeating again');
    const refused = server.calls.findIndex((c) => c.route === 'poll' && c.status === 409);
    expect(server.calls[refused + 1]).toMatchObject({ route: 'heartbeat', status: 200 });
  });

  it('backs off and retries when the API answers 503', async () => {
    server.refuseNext('poll', 503);
    const taskId = server.enqueue({});
    start({ handlers: () => 'ok' });
    await wait(() => server.callsTo('complete', taskId).length === 1, 'the task done after a 503');
    expect(server.callsTo('poll')[0].status).toBe(503);
  });
});
