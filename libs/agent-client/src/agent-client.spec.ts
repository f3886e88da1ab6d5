import { createServer } from 'node:net';
import { AgentClient } from './agent-client';
import { AgentClientError, isAgentClientError } from './agent-client.error';
import { FakeWorkServer } from './testing/fake-work-server';

describe('AgentClient', () => {
  let server: FakeWorkServer;
  beforeEach(async () => (server = await new FakeWorkServer().start()));
  afterEach(() => server.close());

  it('speaks the protocol with the bearer key: heartbeat, poll, complete', async () => {
    const client = new AgentClient({ baseUrl: `${server.url}/v1/`, key: server.key });
    const hb = await client.heartbeat({ instanceId: 'i-1', load: { inFlight: 0 } });
    expect(hb).toEqual({ agentId: 'agent-1', instanceId: 'i-1', serviceStatus: 'HEALTHY', heartbeatIntervalMs: 10_000 });
    const taskId = server.enqueue({ n: 1 });
    const [task] = await client.poll({ instanceId: 'i-1', maxTasks: 4, waitMs: 1_000 });
    expect(task).toMatchObject({ taskId, capability: 'echo', input: { n: 1 } });
    await client.complete(taskId, { lockToken: task.lockToken, output: { ok: true } });
    expect(server.callsTo('complete', taskId)).toEqual([expect.objectContaining({ status: 200, body: { lockToken: task.lockToken, output: { ok: true } } })]);
  });

  it('throws refusals as AgentClientError with the status and the problem body', async () => {
    const client = new AgentClient({ baseUrl: server.url, key: server.key });
    await client.heartbeat({ instanceId: 'i-1' });
    const taskId = server.enqueue({});
    const [task] = await client.poll({ instanceId: 'i-1', waitMs: 1_000 });
    server.loseLock(taskId);
    const err = await client.extend(taskId, { lockToken: task.lockToken, lockMs: 5_000 }).catch((e: unknown) => e);
    expect(isAgentClientError(err, 'LOCK_LOST')).toBe(true);
    expect(err).toMatchObject({ status: 409, code: 'LOCK_LOST', detail: 'refused by the fake', title: 'HTTP 409' });

    const unauthorized = new AgentClient({ baseUrl: server.url, key: 'wrong' });
    await expect(unauthorized.heartbeat({ instanceId: 'i-1' })).rejects.toMatchObject({ status: 401, code: undefined });
  });

  it('leaves network faults unwrapped, so they cannot pass for refusals', async () => {
    const port = await freePort();
    const client = new AgentClient({ baseUrl: `http://127.0.0.1:${port}`, key: 'k' });
    const err = await client.heartbeat({ instanceId: 'i-1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    expect(err).not.toBeInstanceOf(AgentClientError);
  });
});

/** A port nothing listens on: taken, then released. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
