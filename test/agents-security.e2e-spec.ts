import { randomUUID } from 'crypto';
import { waitFor } from '@app/database';
import { agentDetail, agentKey, provisionAgent, settledSaga, startAgentWorkflow, streamEvents } from './support/agent-processes';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';

jest.setTimeout(120_000);

const PROBLEM = /application\/problem\+json/;
const RESOURCES = { cpuMillis: 100, memoryMb: 128 };

interface PolledTask {
  taskId: string;
  lockToken: string;
  sagaId: string;
  capability: string;
}

/**
 * What an agent key may do and see (API.md "Authentication and roles", "Agents: the work
 * protocol"): only the /v1/agent routes, only its own tenant's tasks, nothing after its agent is
 * decommissioned; and what decommissioning undoes.
 */
describe('agent security and decommissioning', () => {
  let ctx: E2eContext;
  let a: TenantKeys;
  let b: TenantKeys;
  /** Both agents serve the same capability, in two tenants. */
  const capability = `shared-${randomUUID().slice(0, 8)}`;
  let agentA: string;
  let agentB: string;
  let keyA: string;
  let keyB: string;
  let usageBefore: { cpuMillis: number; memoryMb: number };
  /** Instances heartbeat while they live (an instance silent for 6 intervals is OFFLINE and must heartbeat before it polls). */
  const heartbeats = new Map<string, NodeJS.Timeout>();
  const keepBeating = (key: string, instanceId: string) =>
    heartbeats.set(instanceId, setInterval(() => void asAgent(key, '/v1/agent/heartbeat', { instanceId }).catch(() => undefined), 250));
  const stopBeating = (instanceId: string) => clearInterval(heartbeats.get(instanceId));

  const http = () => ctx.http();
  const asAgent = (key: string, path: string, body: object) => http().post(path).set(bearer(key)).send(body);
  const poll = (key: string, instanceId: string, over: object = {}) => asAgent(key, '/v1/agent/tasks/poll', { instanceId, maxTasks: 100, waitMs: 0, lockMs: 30_000, ...over });
  const expectProblem = (res: { status: number; headers: Record<string, string>; body: { status?: number } }, status: number) => {
    expect({ status: res.status, body: res.body }).toEqual({ status, body: expect.objectContaining({ status }) });
    expect(res.headers['content-type']).toMatch(PROBLEM);
  };
  const usage = async (tenantId: string) => {
    const res = await http().get(`/v1/tenants/${tenantId}`).set(bearer(ctx.adminKey));
    expect(res.status).toBe(200);
    return res.body.usage as { cpuMillis: number; memoryMb: number };
  };

  beforeAll(async () => {
    ({ ctx, t: a, other: b } = await startE2eAppWithTenants({ agents: { heartbeatIntervalMs: 500, runtime: 'external', apiUrl: 'http://127.0.0.1:1' } }));
    usageBefore = await usage(a.tenantId);
    const spec = (name: string) => ({ name, type: 'worker', capabilities: [capability], permissions: ['read', 'write'], resources: RESOURCES });
    const [pa, pb] = await Promise.all([provisionAgent(ctx, a, spec('alpha')), provisionAgent(ctx, b, spec('beta'))]);
    for (const [keys, p] of [[a, pa], [b, pb]] as const) expect((await settledSaga(ctx, keys.client, p.sagaId)).status).toBe('COMPLETED');
    [agentA, agentB] = [pa.agentId, pb.agentId];
    [keyA, keyB] = await Promise.all([agentKey(ctx, a.operator, agentA), agentKey(ctx, b.operator, agentB)]);
    for (const [key, id] of [[keyA, 'a-1'], [keyB, 'b-1']]) {
      expect((await asAgent(key, '/v1/agent/heartbeat', { instanceId: id })).status).toBe(200);
      keepBeating(key, id);
    }
  });
  afterAll(async () => {
    for (const id of heartbeats.keys()) stopBeating(id);
    await ctx?.close();
  });

  it('an agent key gets 403 on every non-agent route', async () => {
    const routes: [string, () => PromiseLike<{ status: number; headers: Record<string, string> }>][] = [
      ['GET /v1/sagas', () => http().get('/v1/sagas').set(bearer(keyA))],
      ['POST /v1/sagas/task-workflow', () => http().post('/v1/sagas/task-workflow').set(bearer(keyA)).send({ name: 'w', tasks: [{ id: 'x', handler: 'noop', dependsOn: [] }] })],
      ['POST /v1/sagas/agent-provisioning', () => http().post('/v1/sagas/agent-provisioning').set(bearer(keyA)).send({ agent: { name: 'n', type: 't', capabilities: [], permissions: [], resources: RESOURCES } })],
      ['GET /v1/agents', () => http().get('/v1/agents').set(bearer(keyA))],
      ['GET /v1/agents/{own id}', () => http().get(`/v1/agents/${agentA}`).set(bearer(keyA))],
      ['POST /v1/agents/{own id}/keys', () => http().post(`/v1/agents/${agentA}/keys`).set(bearer(keyA)).send({ name: 'more' })],
      ['POST /v1/agents/{own id}/decommission', () => http().post(`/v1/agents/${agentA}/decommission`).set(bearer(keyA)).send({ reason: 'me' })],
      ['GET /v1/services', () => http().get('/v1/services').set(bearer(keyA))],
      ['GET /v1/queues', () => http().get('/v1/queues').set(bearer(keyA))],
      ['GET /v1/streams/agent-{own id}/events', () => http().get(`/v1/streams/agent-${agentA}/events`).set(bearer(keyA))],
      ['GET /v1/tenants/{own tenant}', () => http().get(`/v1/tenants/${a.tenantId}`).set(bearer(keyA))],
      ['POST /v1/api-keys', () => http().post('/v1/api-keys').set(bearer(keyA)).send({ tenantId: a.tenantId, role: 'admin', name: 'escalate' })],
    ];
    for (const [route, call] of routes) {
      const res = await call();
      expect({ route, status: res.status }).toEqual({ route, status: 403 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
    // Nothing was started by those calls.
    expect((await http().get('/v1/sagas?type=task-workflow').set(bearer(a.client))).body.items).toEqual([]);
  });

  it('client, operator and admin keys get 403 on /v1/agent/heartbeat', async () => {
    for (const [role, key] of [['client', a.client], ['operator', a.operator], ['tenant admin', a.admin], ['platform admin', ctx.adminKey]]) {
      const res = await asAgent(key, '/v1/agent/heartbeat', { instanceId: 'intruder' });
      expect({ role, status: res.status }).toEqual({ role, status: 403 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
    expect((await agentDetail(ctx, a.client, agentA)).instances.map((i) => i.instanceId)).toEqual(['a-1']);
  });

  it("an agent of tenant A never receives tenant B's tasks, and gets 404 completing, failing, extending or reporting on them", async () => {
    // B's tasks are queued first (older, so first in line were the tenant ignored).
    const sagaB = await startAgentWorkflow(ctx, b.client, capability, 3, (i) => ({ secret: `b-${i}` }));
    await waitFor(async () => ((await http().get('/v1/queues').set(bearer(b.operator))).body as { capability: string; pending: number }[]).find((q) => q.capability === capability)?.pending === 3, {
      what: "B's 3 tasks queued",
    });
    const sagaA = await startAgentWorkflow(ctx, a.client, capability, 1, () => ({ mine: true }));

    const gotA = await waitFor(async () => {
      const res = await poll(keyA, 'a-1', { waitMs: 2000 });
      expect(res.status).toBe(200);
      return (res.body.tasks as PolledTask[]).length > 0 && (res.body.tasks as PolledTask[]);
    }, { what: "A's task" });
    expect(gotA).toEqual([expect.objectContaining({ sagaId: sagaA, capability, input: { mine: true } })]);
    // A long poll that waits: still none of B's.
    const again = await poll(keyA, 'a-1', { waitMs: 1500 });
    expect(again.status).toBe(200);
    expect(again.body.tasks).toEqual([]);

    const gotB = (await poll(keyB, 'b-1')).body.tasks as PolledTask[];
    expect(gotB.map((x) => x.sagaId)).toEqual([sagaB, sagaB, sagaB]);
    const [victim] = gotB;
    for (const [action, body] of [
      ['complete', { lockToken: victim.lockToken, output: { stolen: true } }],
      ['fail', { lockToken: victim.lockToken, error: { message: 'sabotage' }, retryable: false }],
      ['extend', { lockToken: victim.lockToken, lockMs: 600_000 }],
      ['progress', { lockToken: victim.lockToken, percent: 99 }],
    ] as const) {
      const res = await asAgent(keyA, `/v1/agent/tasks/${victim.taskId}/${action}`, body);
      expect({ action, status: res.status }).toEqual({ action, status: 404 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }

    // B's saga is untouched by all that: its own agent completes it.
    for (const task of gotB) expect((await asAgent(keyB, `/v1/agent/tasks/${task.taskId}/complete`, { lockToken: task.lockToken, output: { by: 'beta' } })).status).toBe(200);
    const doneB = await settledSaga(ctx, b.client, sagaB);
    expect(doneB.status).toBe('COMPLETED');
    expect(doneB.steps.map((s) => s.output)).toEqual([{ by: 'beta' }, { by: 'beta' }, { by: 'beta' }]);
    expect((await asAgent(keyA, `/v1/agent/tasks/${gotA[0].taskId}/complete`, { lockToken: gotA[0].lockToken, output: { by: 'alpha' } })).status).toBe(200);
    expect((await settledSaga(ctx, a.client, sagaA)).status).toBe('COMPLETED');
  });

  describe('POST /v1/agents/{agentId}/decommission', () => {
    /** Every poll of agent A from the 202 on, until one answered 401. */
    const polls: { startedAt: number; status: number; code?: string; tasks?: number }[] = [];
    let sagaId: string;

    it('202 { sagaId, type }, then the agent DECOMMISSIONED, its service deregistered, permissions empty, quota released, keys 422; another tenant’s agent 404', async () => {
      const provisioned = await usage(a.tenantId);
      expect(provisioned).toEqual({ cpuMillis: usageBefore.cpuMillis + RESOURCES.cpuMillis, memoryMb: usageBefore.memoryMb + RESOURCES.memoryMb });
      expect((await agentDetail(ctx, a.client, agentA)).permissions.sort()).toEqual(['read', 'write']);

      // Another tenant's agent: 404, and nothing happens to it.
      expectProblem(await http().post(`/v1/agents/${agentB}/decommission`).set(bearer(a.operator)).send({ reason: 'not mine' }), 404);
      expect((await agentDetail(ctx, b.client, agentB)).status).toBe('ACTIVE');
      expect((await poll(keyB, 'b-1')).status).toBe(200);

      stopBeating('a-1');
      const res = await http().post(`/v1/agents/${agentA}/decommission`).set(bearer(a.operator)).send({ reason: 'retired by the e2e test' });
      expect(res.status).toBe(202);
      expect(res.body).toEqual(expect.objectContaining({ sagaId: expect.any(String), type: 'agent-decommissioning' }));
      sagaId = res.body.sagaId;

      // The instance keeps polling as an instance does, until it is refused for good.
      await waitFor(
        async () => {
          const startedAt = Date.now();
          const p = await poll(keyA, 'a-1');
          polls.push({ startedAt, status: p.status, code: p.body?.code, tasks: p.body?.tasks?.length });
          return p.status === 401;
        },
        { timeoutMs: 20_000, intervalMs: 10, what: () => `a poll answered 401 after decommissioning (so far: ${JSON.stringify(polls)})` },
      );
      expectProblem(await asAgent(keyA, '/v1/agent/heartbeat', { instanceId: 'a-1' }), 401);

      const saga = await settledSaga(ctx, a.client, sagaId);
      expect(saga.status).toBe('COMPLETED');
      expect(saga.steps.map((s) => `${s.name}:${s.status}`)).toEqual(
        ['begin-decommissioning', 'stop-instances', 'deregister-service', 'revoke-permissions', 'revoke-keys', 'release-resources', 'decommission-agent'].map((n) => `${n}:SUCCEEDED`),
      );

      const agent = await waitFor(async () => {
        const d = await agentDetail(ctx, a.client, agentA);
        return d.status === 'DECOMMISSIONED' && d;
      }, { what: 'agent DECOMMISSIONED' });
      expect(agent.permissions).toEqual([]);

      const service = await streamEvents(ctx, a.operator, `service-${agentA}`);
      expect(service.map((e) => e.type)).toContain('ServiceDeregistered');
      const state = await http().get(`/v1/streams/service-${agentA}/state`).set(bearer(a.operator));
      expect(state.body.state).toEqual(expect.objectContaining({ registration: 'DEREGISTERED' }));
      const services = await http().get('/v1/services?limit=500').set(bearer(a.client));
      expect((services.body.items as { agentId: string; status: string }[]).filter((s) => s.agentId === agentA && s.status !== 'OFFLINE')).toEqual([]);

      const agentStream = (await streamEvents(ctx, a.operator, `agent-${agentA}`)).map((e) => e.type);
      expect(agentStream).toEqual(expect.arrayContaining(['AgentDecommissioningStarted', 'PermissionsRevoked', 'AgentDecommissioned']));

      await waitFor(async () => {
        const u = await usage(a.tenantId);
        return u.cpuMillis === usageBefore.cpuMillis && u.memoryMb === usageBefore.memoryMb;
      }, { what: 'quota usage back to what it was before the agent' });

      expectProblem(await http().post(`/v1/agents/${agentA}/keys`).set(bearer(a.operator)).send({ name: 'late' }), 422);
      expectProblem(await http().post(`/v1/agents/${agentA}/decommission`).set(bearer(a.operator)).send({ reason: 'again' }), 422);
      expectProblem(await http().post(`/v1/agents/${agentB}/decommission`).set(bearer(a.operator)).send({ reason: 'still not mine' }), 404);
      // B's agent was never affected.
      expect((await agentDetail(ctx, b.client, agentB)).status).toBe('ACTIVE');
      expect((await asAgent(keyB, '/v1/agent/heartbeat', { instanceId: 'b-1' })).status).toBe(200);
    });

    it('from the moment decommissioning began the agent takes no work: its polls answer 409 AGENT_DECOMMISSIONING, then 401 — never 200', async () => {
      expect(sagaId).toBeDefined();
      const saga = await settledSaga(ctx, a.client, sagaId);
      // The agent is "being decommissioned" once begin-decommissioning committed (AgentDecommissioningStarted).
      const began = Date.parse(saga.steps.find((s) => s.name === 'begin-decommissioning')!.finishedAt!);
      const after = polls.filter((p) => p.startedAt > began + 20);
      expect(after.length).toBeGreaterThan(0);
      expect(after[after.length - 1].status).toBe(401);
      const accepted = after.filter((p) => !(p.status === 401 || (p.status === 409 && p.code === 'AGENT_DECOMMISSIONING')));
      // Nor does a poll bring a stopped instance back (stop-instances forgot them).
      const { instances } = await agentDetail(ctx, a.client, agentA);
      expect({ began: new Date(began).toISOString(), accepted, instances }).toEqual({ began: expect.any(String), accepted: [], instances: [] });
    });
  });
});
