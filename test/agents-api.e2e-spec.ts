import { randomUUID } from 'crypto';
import { waitFor } from '@app/database';
import { agentIdOf } from '@app/sagas';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { agentSpec, postSaga, provisioningBody } from './support/sagas';

jest.setTimeout(120_000);

const PROBLEM = /application\/problem\+json/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/**
 * The REST layer of the agent work protocol (API.md "Authentication and roles", "Agents: the work
 * protocol"): agent keys and their confinement to /v1/agent, the operators' agent routes, bodies
 * refused before any work, and the documented operations.
 */
describe('agents API', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;
  /** An ACTIVE agent of `t` (capability invoices) and a key of it. */
  let agentId: string;
  let agentKey: string;
  /** An agent of `t` whose provisioning was compensated: DECOMMISSIONED. */
  let deadAgentId: string;
  /** An ACTIVE agent of `other`. */
  let otherAgentId: string;

  const http = () => ctx.http();
  const agentStatus = async (id: string, key: string) => {
    const res = await http().get(`/v1/agents?limit=500`).set(bearer(key));
    return (res.body.items as { agentId: string; status: string }[] | undefined)?.find((a) => a.agentId === id)?.status;
  };
  const provision = async (keys: TenantKeys, over: Record<string, unknown>, status: string) => {
    const res = await postSaga(ctx, keys.client, 'agent-provisioning', provisioningBody(over));
    expect(res.status).toBe(202);
    const id = agentIdOf(res.body.sagaId);
    await waitFor(async () => (await agentStatus(id, keys.client)) === status, { what: `agent ${id} ${status}`, timeoutMs: 30_000 });
    return id;
  };
  const expectProblem = (res: { status: number; headers: Record<string, string>; body: { status?: number } }, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.status).toBe(status);
  };

  beforeAll(async () => {
    ({ ctx, t, other } = await startE2eAppWithTenants());
    [agentId, deadAgentId, otherAgentId] = await Promise.all([
      provision(t, { capabilities: ['invoices'] }, 'ACTIVE'),
      // A permission the tenant does not allow: grant-permissions fails, the agent is decommissioned.
      provision(t, { permissions: ['root'] }, 'DECOMMISSIONED'),
      provision(other, {}, 'ACTIVE'),
    ]);
    const res = await http().post(`/v1/agents/${agentId}/keys`).set(bearer(t.operator)).send({ name: 'instance key' });
    expect(res.status).toBe(201);
    agentKey = res.body.key;
  });
  afterAll(async () => ctx?.close());

  describe('POST /v1/agents/{agentId}/keys', () => {
    it('gives an operator a key bound to the agent, shown once', async () => {
      const res = await http().post(`/v1/agents/${agentId}/keys`).set(bearer(t.operator)).send({ name: 'second instance' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: expect.stringMatching(UUID), key: expect.any(String), agentId });
      expect(res.body.key).not.toBe(agentKey);
    });

    it('answers 404 for an unknown agent and for another tenant’s', async () => {
      expectProblem(await http().post(`/v1/agents/${UNKNOWN}/keys`).set(bearer(t.operator)).send({ name: 'k' }), 404);
      expectProblem(await http().post(`/v1/agents/${otherAgentId}/keys`).set(bearer(t.operator)).send({ name: 'k' }), 404);
    });

    it('answers 422 for an agent that is not PROVISIONING or ACTIVE', async () => {
      expectProblem(await http().post(`/v1/agents/${deadAgentId}/keys`).set(bearer(t.operator)).send({ name: 'k' }), 422);
    });

    it('needs the operator role, a UUID and a name', async () => {
      expectProblem(await http().post(`/v1/agents/${agentId}/keys`).set(bearer(t.client)).send({ name: 'k' }), 403);
      expectProblem(await http().post(`/v1/agents/${agentId}/keys`).set(bearer(agentKey)).send({ name: 'k' }), 403);
      expectProblem(await http().post('/v1/agents/not-a-uuid/keys').set(bearer(t.operator)).send({ name: 'k' }), 400);
      for (const body of [{}, { name: '' }, { name: 42 }, { name: 'x'.repeat(201) }, { name: 'k', role: 'admin' }]) {
        expectProblem(await http().post(`/v1/agents/${agentId}/keys`).set(bearer(t.operator)).send(body), 400);
      }
    });

    it('lets the admin key give keys to any tenant’s agent', async () => {
      const res = await http().post(`/v1/agents/${otherAgentId}/keys`).set(bearer(ctx.adminKey)).send({ name: 'by admin' });
      expect(res.status).toBe(201);
      expect(res.body.agentId).toBe(otherAgentId);
    });
  });

  describe('roles', () => {
    it('refuses an agent key on every route outside /v1/agent (403 problem+json)', async () => {
      expectProblem(await http().get('/v1/sagas').set(bearer(agentKey)), 403);
      expectProblem(await http().get(`/v1/agents/${agentId}`).set(bearer(agentKey)), 403);
      expectProblem(await http().get('/v1/queues').set(bearer(agentKey)), 403);
      expectProblem(await postSaga(ctx, agentKey, 'task-workflow', { name: 'w', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] }), 403);
      expectProblem(await http().post(`/v1/agents/${agentId}/decommission`).set(bearer(agentKey)).send({ reason: 'self' }), 403);
    });

    it('refuses client, operator and admin keys on the /v1/agent routes (403), and no key (401)', async () => {
      for (const key of [t.client, t.operator, t.admin, ctx.adminKey]) {
        expectProblem(await http().post('/v1/agent/heartbeat').set(bearer(key)).send({ instanceId: 'i-1' }), 403);
        expectProblem(await http().post('/v1/agent/tasks/poll').set(bearer(key)).send({ instanceId: 'i-1' }), 403);
        expectProblem(await http().post(`/v1/agent/tasks/${UNKNOWN}/complete`).set(bearer(key)).send({ lockToken: UNKNOWN }), 403);
      }
      expectProblem(await http().post('/v1/agent/heartbeat').send({ instanceId: 'i-1' }), 401);
      expectProblem(await http().post('/v1/agent/heartbeat').set(bearer('sk_unknown')).send({ instanceId: 'i-1' }), 401);
    });

    it('refuses a key revoked by the admin at once (401)', async () => {
      const created = await http().post(`/v1/agents/${agentId}/keys`).set(bearer(t.operator)).send({ name: 'short-lived' });
      expect((await http().delete(`/v1/api-keys/${created.body.id}`).set(bearer(ctx.adminKey))).status).toBe(204);
      expectProblem(await http().post('/v1/agent/heartbeat').set(bearer(created.body.key)).send({ instanceId: 'i-1' }), 401);
    });
  });

  describe('bodies refused before any work (400)', () => {
    const poll = (body: unknown) => http().post('/v1/agent/tasks/poll').set(bearer(agentKey)).send(body as object);

    it.each([
      ['no instanceId', {}],
      ['empty instanceId', { instanceId: '' }],
      ['instanceId with a space', { instanceId: 'a b' }],
      ['instanceId with a slash', { instanceId: 'a/b' }],
      ['instanceId of 201 characters', { instanceId: 'x'.repeat(201) }],
      ['instanceId a number', { instanceId: 42 }],
      ['maxTasks 0', { instanceId: 'i-1', maxTasks: 0 }],
      ['maxTasks 101', { instanceId: 'i-1', maxTasks: 101 }],
      ['maxTasks 1.5', { instanceId: 'i-1', maxTasks: 1.5 }],
      ['maxTasks "1"', { instanceId: 'i-1', maxTasks: '1' }],
      ['waitMs -1', { instanceId: 'i-1', waitMs: -1 }],
      ['waitMs 30001', { instanceId: 'i-1', waitMs: 30_001 }],
      ['lockMs 999', { instanceId: 'i-1', lockMs: 999 }],
      ['lockMs 600001', { instanceId: 'i-1', lockMs: 600_001 }],
      ['lockMs null', { instanceId: 'i-1', lockMs: null }],
      ['an unknown field', { instanceId: 'i-1', agentId: UNKNOWN }],
    ])('poll: %s', async (_label, body) => {
      const res = await poll(body);
      expectProblem(res, 400);
      expect(res.body.errors?.length).toBeGreaterThan(0);
    });

    it.each([
      ['status OFFLINE', { instanceId: 'i-1', status: 'OFFLINE' }],
      ['status null', { instanceId: 'i-1', status: null }],
      ['load not an object', { instanceId: 'i-1', load: 'high' }],
      ['load.cpuPercent negative', { instanceId: 'i-1', load: { cpuPercent: -1 } }],
      ['load.inFlight fractional', { instanceId: 'i-1', load: { inFlight: 1.5 } }],
      ['load with an unknown field', { instanceId: 'i-1', load: { disk: 1 } }],
    ])('heartbeat: %s', async (_label, body) => {
      expectProblem(await http().post('/v1/agent/heartbeat').set(bearer(agentKey)).send(body), 400);
    });

    const lockToken = randomUUID();
    it.each([
      ['complete', { lockToken: 'not-a-uuid' }],
      ['complete', { output: 1 }],
      ['fail', { lockToken }],
      ['fail', { lockToken, error: { message: '' } }],
      ['fail', { lockToken, error: { message: 'x' }, retryable: 'no' }],
      ['extend', { lockToken }],
      ['extend', { lockToken, lockMs: 999 }],
      ['progress', { lockToken, percent: 101 }],
      ['progress', { lockToken, percent: -1 }],
      ['progress', { lockToken }],
    ])('%s: %j', async (action, body) => {
      expectProblem(await http().post(`/v1/agent/tasks/${UNKNOWN}/${action}`).set(bearer(agentKey)).send(body), 400);
    });

    it('answers 404 for a taskId that is not a UUID', async () => {
      const valid: Record<string, object> = {
        complete: { lockToken },
        fail: { lockToken, error: { message: 'boom' } },
        extend: { lockToken, lockMs: 5000 },
        progress: { lockToken, percent: 50 },
      };
      for (const [action, body] of Object.entries(valid)) {
        expectProblem(await http().post(`/v1/agent/tasks/not-a-uuid/${action}`).set(bearer(agentKey)).send(body), 404);
      }
    });
  });

  describe('start bodies with agent tasks and scaling', () => {
    it('accepts a scaling policy, and refuses one out of bounds (400)', async () => {
      const scaled = (scaling: unknown) => postSaga(ctx, other.client, 'agent-provisioning', { agent: agentSpec({ scaling }) });
      expect((await scaled({ strategy: 'WORKLOAD_BASED', min: 1, max: 3, targetPendingPerInstance: 5 })).status).toBe(202);
      for (const scaling of [
        { strategy: 'SOMETIMES', min: 1, max: 1 },
        { strategy: 'FIXED', min: 2, max: 1 },
        { strategy: 'FIXED', min: -1, max: 1 },
        { strategy: 'FIXED', min: 0, max: 0 },
        { strategy: 'FIXED', min: 1, max: 101 },
        { strategy: 'FIXED', min: 1.5, max: 2 },
        { strategy: 'FIXED', min: 1 },
        { strategy: 'WORKLOAD_BASED', min: 1, max: 2 },
        { strategy: 'WORKLOAD_BASED', min: 1, max: 2, targetPendingPerInstance: 0 },
        { strategy: 'PERFORMANCE_BASED', min: 1, max: 2 },
        { strategy: 'PERFORMANCE_BASED', min: 1, max: 2, targetCpuPercent: 101 },
        { strategy: 'AUTO', min: 1, max: 2 },
        { strategy: 'FIXED', min: 1, max: 1, extra: true },
      ]) {
        const res = await scaled(scaling);
        expect({ scaling, status: res.status }).toEqual({ scaling, status: 400 });
      }
    });

    it('accepts agent:<capability> handlers with a queue, and an initial task on the agent', async () => {
      const workflow = await postSaga(ctx, other.client, 'task-workflow', {
        name: 'queued',
        tasks: [
          { id: 'a', handler: 'agent:nobody-serves-this', dependsOn: [], queue: { delayMs: 0, ttlMs: 60_000 } },
          { id: 'b', handler: `agent:${'c'.repeat(100)}`, dependsOn: ['a'], queue: {} },
        ],
      });
      expect(workflow.status).toBe(202);
      const initial = await postSaga(ctx, other.client, 'agent-provisioning', {
        agent: agentSpec({ initialTask: { name: 'smoke', handler: 'agent', config: { ping: true }, queue: { ttlMs: 5000 } } }),
      });
      expect(initial.status).toBe(202);
      for (const queue of [{ ttlMs: 0 }, { delayMs: -1 }, { delayMs: 31_536_000_001 }, { ttlMs: 1.5 }, { priority: 1 }, 'soon', null]) {
        const res = await postSaga(ctx, other.client, 'task-workflow', { name: 'q', tasks: [{ id: 'a', handler: 'agent:x', dependsOn: [], queue }] });
        expect({ queue, status: res.status }).toEqual({ queue, status: 400 });
      }
    });
  });

  describe('POST /v1/agents/{agentId}/decommission (refusals)', () => {
    it('answers 404 for an unknown agent and another tenant’s, 422 for a DECOMMISSIONED one, 403 for a client', async () => {
      expectProblem(await http().post(`/v1/agents/${UNKNOWN}/decommission`).set(bearer(t.operator)).send({ reason: 'r' }), 404);
      expectProblem(await http().post(`/v1/agents/${otherAgentId}/decommission`).set(bearer(t.operator)).send({ reason: 'r' }), 404);
      expectProblem(await http().post(`/v1/agents/${deadAgentId}/decommission`).set(bearer(t.operator)).send({ reason: 'r' }), 422);
      expectProblem(await http().post(`/v1/agents/${agentId}/decommission`).set(bearer(t.client)).send({ reason: 'r' }), 403);
      expectProblem(await http().post(`/v1/agents/${agentId}/decommission`).set(bearer(t.operator)).send({}), 400);
    });
  });

  describe('OpenAPI', () => {
    it('documents the agent operations with ids, the bearer key and their problem answers', async () => {
      const doc = (await http().get('/docs-json')).body as { paths: Record<string, Record<string, { operationId?: string; summary?: string; security?: unknown[]; responses: Record<string, unknown> }>> };
      const expected: [string, string, string, string[]][] = [
        ['post', '/v1/agent/heartbeat', 'agentHeartbeat', ['200', '400', '401', '403', '409']],
        ['post', '/v1/agent/tasks/poll', 'pollAgentTasks', ['200', '400', '401', '403', '409']],
        ['post', '/v1/agent/tasks/{taskId}/complete', 'completeAgentTask', ['200', '400', '403', '404', '409']],
        ['post', '/v1/agent/tasks/{taskId}/fail', 'failAgentTask', ['200', '400', '403', '404', '409']],
        ['post', '/v1/agent/tasks/{taskId}/extend', 'extendAgentTaskLock', ['200', '400', '403', '404', '409']],
        ['post', '/v1/agent/tasks/{taskId}/progress', 'reportAgentTaskProgress', ['200', '400', '403', '404', '409']],
        ['post', '/v1/agents/{agentId}/keys', 'createAgentKey', ['201', '400', '403', '404', '422']],
        ['post', '/v1/agents/{agentId}/decommission', 'decommissionAgent', ['202', '400', '403', '404', '422']],
        ['get', '/v1/queues', 'listQueues', ['200', '401', '403']],
      ];
      for (const [method, path, operationId, statuses] of expected) {
        const op = doc.paths[path]?.[method];
        expect({ path, operationId: op?.operationId }).toEqual({ path, operationId });
        expect(op?.summary).toBeTruthy();
        expect(op?.security?.length).toBeGreaterThan(0);
        expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(statuses));
      }
      const agent = doc.paths['/v1/agents/{agentId}'].get.responses['200'] as { content: Record<string, { schema: { $ref: string } }> };
      expect(agent.content['application/json'].schema.$ref).toMatch(/AgentDetailDto$/);
    });
  });

  // What follows needs the lead's queue (AgentWork) behind the routes.
  describe('the work protocol', () => {
    it('heartbeat answers the agent, the instance, its service status and the interval', async () => {
      const res = await http().post('/v1/agent/heartbeat').set(bearer(agentKey)).send({ instanceId: 'i-1', load: { cpuPercent: 12.5, inFlight: 0 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ agentId, instanceId: 'i-1', serviceStatus: 'HEALTHY', heartbeatIntervalMs: expect.any(Number) });
    });

    it('poll with waitMs 0 answers { tasks: [] } when nothing is queued', async () => {
      await http().post('/v1/agent/heartbeat').set(bearer(agentKey)).send({ instanceId: 'i-1' });
      const res = await http().post('/v1/agent/tasks/poll').set(bearer(agentKey)).send({ instanceId: 'i-1', waitMs: 0 });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ tasks: [] });
    });

    it('an unknown task answers 404 problem+json', async () => {
      expectProblem(await http().post(`/v1/agent/tasks/${UNKNOWN}/complete`).set(bearer(agentKey)).send({ lockToken: randomUUID() }), 404);
    });

    it('GET /v1/agents/{agentId} shows the scaling policy, the desired instances and the instances', async () => {
      await http().post('/v1/agent/heartbeat').set(bearer(agentKey)).send({ instanceId: 'i-1' });
      const res = await http().get(`/v1/agents/${agentId}`).set(bearer(t.client));
      expect(res.status).toBe(200);
      expect(res.body).toEqual(
        expect.objectContaining({
          agentId,
          status: 'ACTIVE',
          scaling: { strategy: 'FIXED', min: 1, max: 1 },
          desiredInstances: 1,
          instances: [expect.objectContaining({ instanceId: 'i-1', status: 'HEALTHY', lastHeartbeatAt: expect.any(String) })],
        }),
      );
    });

    it('GET /v1/queues lists the tenant’s queues for an operator', async () => {
      const res = await http().get('/v1/queues').set(bearer(t.operator));
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body)).toBe(true);
      expectProblem(await http().get('/v1/queues').set(bearer(t.client)), 403);
    });

    it('hands a queued agent:<capability> task to a long poll; progress, extend and complete drive the saga; a stale token is LOCK_LOST', async () => {
      const agentKeyed = (path: string, body: object) => http().post(path).set(bearer(agentKey)).send(body);
      await agentKeyed('/v1/agent/heartbeat', { instanceId: 'i-2' });
      // The poll waits first; the task comes while it waits.
      const polled = agentKeyed('/v1/agent/tasks/poll', { instanceId: 'i-2', waitMs: 20_000, lockMs: 30_000 }).then((r) => r);
      const started = await postSaga(ctx, t.client, 'task-workflow', { name: 'billing', tasks: [{ id: 'bill', handler: 'agent:invoices', dependsOn: [], config: { invoice: 7 } }] });
      expect(started.status).toBe(202);
      const res = await polled;
      expect(res.status).toBe(200);
      expect(res.body.tasks).toEqual([
        expect.objectContaining({ taskId: expect.stringMatching(UUID), lockToken: expect.stringMatching(UUID), sagaId: started.body.sagaId, capability: 'invoices', attempt: 1, input: { invoice: 7 } }),
      ]);
      const [{ taskId, lockToken }] = res.body.tasks as { taskId: string; lockToken: string }[];

      const stale = await agentKeyed(`/v1/agent/tasks/${taskId}/complete`, { lockToken: randomUUID(), output: { paid: false } });
      expectProblem(stale, 409);
      expect(stale.body.code).toBe('LOCK_LOST');

      const progress = await agentKeyed(`/v1/agent/tasks/${taskId}/progress`, { lockToken, percent: 50, message: 'half way' });
      expect(progress.status).toBe(200);
      expect(progress.body).toEqual({ taskId });
      const extended = await agentKeyed(`/v1/agent/tasks/${taskId}/extend`, { lockToken, lockMs: 60_000 });
      expect(extended.status).toBe(200);
      expect(Date.parse(extended.body.lockedUntil)).toBeGreaterThan(Date.now() + 30_000);
      const done = await agentKeyed(`/v1/agent/tasks/${taskId}/complete`, { lockToken, output: { paid: true } });
      expect(done.status).toBe(200);
      expect(done.body).toEqual({ taskId });

      const saga = await waitFor(async () => {
        const view = await http().get(`/v1/sagas/${started.body.sagaId}`).set(bearer(t.client));
        return view.body.status === 'COMPLETED' && view.body;
      }, { what: 'saga completed' });
      expect(saga.steps).toEqual([expect.objectContaining({ name: 'bill', status: 'SUCCEEDED', output: { paid: true } })]);
      // Another tenant's agent does not see the task at all.
      const otherKey = (await http().post(`/v1/agents/${otherAgentId}/keys`).set(bearer(other.operator)).send({ name: 'k' })).body.key as string;
      await http().post('/v1/agent/heartbeat').set(bearer(otherKey)).send({ instanceId: 'o-1' });
      expectProblem(await http().post(`/v1/agent/tasks/${taskId}/progress`).set(bearer(otherKey)).send({ lockToken, percent: 1 }), 404);
    });

    it('decommissioning starts a saga once per agent, and its keys stop working', async () => {
      const victim = await provision(t, {}, 'ACTIVE');
      const key = (await http().post(`/v1/agents/${victim}/keys`).set(bearer(t.operator)).send({ name: 'k' })).body.key as string;
      const res = await http().post(`/v1/agents/${victim}/decommission`).set(bearer(t.operator)).send({ reason: 'retired' });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ sagaId: expect.stringMatching(UUID), type: 'agent-decommissioning', status: expect.any(String), location: `/v1/sagas/${res.body.sagaId}` });
      expect(res.headers.location).toBe(`/v1/sagas/${res.body.sagaId}`);
      const again = await http().post(`/v1/agents/${victim}/decommission`).set(bearer(t.operator)).send({ reason: 'retired, really' });
      expect(again.status).toBe(202);
      expect(again.body.sagaId).toBe(res.body.sagaId);
      await waitFor(async () => (await agentStatus(victim, t.client)) === 'DECOMMISSIONED', { what: 'agent decommissioned', timeoutMs: 30_000 });
      expectProblem(await http().post('/v1/agent/heartbeat').set(bearer(key)).send({ instanceId: 'i-1' }), 401);
      expectProblem(await http().post(`/v1/agents/${victim}/keys`).set(bearer(t.operator)).send({ name: 'late' }), 422);
    });
  });
});
