import { randomUUID } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { waitFor } from '@app/database';
import {
  agentDetail,
  AgentDetail,
  agentEnv,
  agentKey,
  AgentProcess,
  IDLE_JS,
  PYTHON_AGENT,
  provisionAgent,
  runtimeChildren,
  settledSaga,
  startAgentWorkflow,
  stepsSucceededTwice,
  streamEvents,
} from './support/agent-processes';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { freePort } from './support/spawn-platform';

jest.setTimeout(120_000);

const HEARTBEAT_MS = 500;
const RESOURCES = { cpuMillis: 100, memoryMb: 128 };

/**
 * Agents that come up (or not) under provisioning, scale with their queue, and speak the protocol
 * from another language (API.md "Agents: the work protocol"; DESIGN.md "Agents": Runtime,
 * Provisioning ties in, Scaling, SDK).
 */
describe('agent provisioning, scaling and runtimes', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let apiUrl: string;
  let configDir: string;

  const usage = async (tenantId: string) => {
    const res = await ctx.http().get(`/v1/tenants/${tenantId}`).set(bearer(ctx.adminKey));
    expect(res.status).toBe(200);
    return res.body.usage as { cpuMillis: number; memoryMb: number };
  };
  const agentEvents = (agentId: string) => streamEvents(ctx, t.operator, `agent-${agentId}`);
  const healthyInstances = (a: AgentDetail) => a.instances.filter((i) => i.status === 'HEALTHY').map((i) => i.instanceId).sort();
  const metricValue = async (agentId: string) => {
    const res = await ctx.http().get('/metrics');
    expect(res.status).toBe(200);
    const line = (res.text as string).split('\n').find((l) => l.startsWith('saga_agent_desired_instances{') && l.includes(`agent="${agentId}"`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };

  beforeAll(async () => {
    // The deployment's mapping: agent type `idle` runs a process that heartbeats and never polls.
    configDir = mkdtempSync(join(tmpdir(), 'agents-provisioning-'));
    const runtimeConfigPath = join(configDir, 'agent-runtime.json');
    writeFileSync(runtimeConfigPath, JSON.stringify({ types: { idle: { command: [process.execPath, '-e', IDLE_JS] } } }));
    const port = await freePort();
    ({ ctx, t } = await startE2eAppWithTenants({
      agents: { heartbeatIntervalMs: HEARTBEAT_MS, runtime: 'local', apiUrl: `http://127.0.0.1:${port}`, runtimeConfigPath },
    }));
    apiUrl = await ctx.listen(port);
  });

  afterAll(async () => {
    await AgentProcess.killLeftovers();
    await ctx?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it('an `example` agent under the local runtime comes up, completes its own initial task, and becomes ACTIVE', async () => {
    const { sagaId, agentId } = await provisionAgent(ctx, t, {
      name: `smoke-${randomUUID().slice(0, 8)}`,
      type: 'example',
      capabilities: ['translate'],
      permissions: ['read'],
      resources: RESOURCES,
      initialTask: { name: 'smoke', handler: 'agent', config: { text: 'hi' } },
    });
    const saga = await settledSaga(ctx, t.client, sagaId, 60_000);
    expect(saga.status).toBe('COMPLETED');
    const initial = saga.steps.find((s) => s.name === 'run-initial-task')!;
    // The agents read model follows the saga's events (asynchronously).
    const agent = await waitFor(async () => {
      const a = await agentDetail(ctx, t.client, agentId);
      return a.status === 'ACTIVE' && a;
    }, { what: 'agent ACTIVE in the read model' });
    expect(agent.instances).toEqual([expect.objectContaining({ status: 'HEALTHY' })]);
    // The agent's own instance did it (the example agent echoes its input and names itself).
    expect(initial).toEqual(expect.objectContaining({ status: 'SUCCEEDED', attempts: 1 }));
    expect(initial.output).toEqual(expect.objectContaining({ handledBy: agent.instances[0].instanceId, input: { text: 'hi' }, result: { text: 'hi' } }));
    expect(runtimeChildren(agentId).map((c) => c.instanceId)).toEqual([agent.instances[0].instanceId]);
    const types = (await agentEvents(agentId)).map((e) => e.type);
    expect(types).toContain('AgentActivated');
    expect(await stepsSucceededTwice(ctx, t.client, sagaId)).toEqual([]);
  });

  it('an agent whose instance never comes up: the initial task EXPIRES after its TTL, the saga is COMPENSATED in exact reverse order, and the agent was never ACTIVE', async () => {
    const before = await usage(t.tenantId);
    const started = Date.now();
    const { sagaId, agentId } = await provisionAgent(ctx, t, {
      name: `ghost-${randomUUID().slice(0, 8)}`,
      type: 'nobody-runs-this-type',
      capabilities: ['haunting'],
      permissions: ['read'],
      resources: RESOURCES,
      initialTask: { name: 'smoke', handler: 'agent', queue: { ttlMs: 2000 } },
    });
    const saga = await settledSaga(ctx, t.client, sagaId, 30_000);
    expect(saga.status).toBe('COMPENSATED');
    // The TTL it was given, not the 120 s default.
    expect(Date.now() - started).toBeLessThan(20_000);
    const status = Object.fromEntries(saga.steps.map((s) => [s.name, s.status]));
    expect(status).toEqual({
      'register-agent': 'COMPENSATED',
      'reserve-resources': 'COMPENSATED',
      'grant-permissions': 'COMPENSATED',
      'register-service': 'COMPENSATED',
      'run-initial-task': 'FAILED',
      'activate-agent': 'PENDING',
    });
    const initial = saga.steps.find((s) => s.name === 'run-initial-task')!;
    expect(initial).toEqual(expect.objectContaining({ errorCode: 'EXPIRED', attempts: 1 }));
    const ran = Date.parse(initial.finishedAt!) - Date.parse(initial.startedAt!);
    expect(ran).toBeGreaterThanOrEqual(2000 - 50);
    expect(ran).toBeLessThan(2000 + 5000);

    const comps = await ctx.http().get(`/v1/sagas/${sagaId}/compensations`).set(bearer(t.client));
    expect(comps.status).toBe(200);
    expect(comps.body.status).toBe('COMPENSATED');
    expect(comps.body.entries.map((e: { step: string; status: string }) => `${e.step}:${e.status}`)).toEqual([
      'register-service:STARTED',
      'register-service:SUCCEEDED',
      'grant-permissions:STARTED',
      'grant-permissions:SUCCEEDED',
      'reserve-resources:STARTED',
      'reserve-resources:SUCCEEDED',
      'register-agent:STARTED',
      'register-agent:SUCCEEDED',
    ]);
    // Exactly the reverse of the order in which the steps succeeded.
    const succeeded = (await streamEvents(ctx, t.operator, `saga-${sagaId}`)).filter((e) => e.type === 'StepSucceeded').map((e) => e.data.step);
    expect(succeeded).toEqual(['register-agent', 'reserve-resources', 'grant-permissions', 'register-service']);

    const types = (await agentEvents(agentId)).map((e) => e.type);
    expect(types).not.toContain('AgentActivated');
    expect(types).toContain('AgentDecommissioned');
    const agent = await agentDetail(ctx, t.client, agentId);
    expect(agent.status).toBe('DECOMMISSIONED');
    expect(agent.permissions).toEqual([]);
    expect(await usage(t.tenantId)).toEqual(before);
  });

  describe('WORKLOAD_BASED scaling { min: 1, max: 4, targetPendingPerInstance: 10 }', () => {
    const scaling = { strategy: 'WORKLOAD_BASED', min: 1, max: 4, targetPendingPerInstance: 10 };
    /** Usage of the scaling tenant: after provisioning, at 4 instances, back at 1 (see the quota test). */
    const usages: Record<string, { cpuMillis: number; memoryMb: number }> = {};

    it('100 pending tasks: desiredInstances 4 (10 clamped to max), an AgentScaled event, the metric, and 4 instances heartbeat; drained: back to 1 and the extra instances stop', async () => {
      const s = await ctx.tenant(undefined, { cpuMillis: 2000, memoryMb: 4096 });
      const capability = `scale-${randomUUID().slice(0, 8)}`;
      const { sagaId, agentId } = await provisionAgent(ctx, s, {
        name: `idle-${randomUUID().slice(0, 8)}`,
        type: 'idle',
        capabilities: [capability],
        permissions: ['read'],
        resources: RESOURCES,
        scaling,
      });
      expect((await settledSaga(ctx, s.client, sagaId)).status).toBe('COMPLETED');
      const one = await waitFor(async () => {
        const a = await agentDetail(ctx, s.client, agentId);
        return healthyInstances(a).length === 1 && a;
      }, { timeoutMs: 20_000, what: 'its first instance heartbeating' });
      expect(one).toEqual(expect.objectContaining({ status: 'ACTIVE', desiredInstances: 1, scaling }));
      usages.provisioned = await usage(s.tenantId);

      // 100 tasks nobody takes (the idle instances never poll): two workflows of 50.
      const workflows = [await startAgentWorkflow(ctx, s.client, capability, 50), await startAgentWorkflow(ctx, s.client, capability, 50)];
      await waitFor(async () => {
        const q = ((await ctx.http().get('/v1/queues').set(bearer(s.operator))).body as { capability: string; pending: number }[]).find((x) => x.capability === capability);
        return q?.pending === 100;
      }, { what: '100 pending tasks' });

      const four = await waitFor(async () => {
        const a = await agentDetail(ctx, s.client, agentId);
        return a.desiredInstances === 4 && a;
      }, { timeoutMs: 15_000, what: 'desiredInstances 4' });
      expect(four.desiredInstances).toBe(4);
      const scaled = (await streamEvents(ctx, s.operator, `agent-${agentId}`)).filter((e) => e.type === 'AgentScaled');
      expect(scaled.map((e) => e.data)).toEqual([expect.objectContaining({ agentId, from: 1, to: 4, reason: expect.stringMatching(/100 pending.*clamped to max 4/) })]);
      expect(await metricValue(agentId)).toBe(4);

      // The local runtime follows: four instances heartbeat, four processes run.
      const fourUp = await waitFor(async () => {
        const a = await agentDetail(ctx, s.client, agentId);
        return healthyInstances(a).length === 4 && a;
      }, { timeoutMs: 20_000, what: '4 instances heartbeating' });
      const ids = healthyInstances(fourUp);
      expect(runtimeChildren(agentId).map((c) => c.instanceId)).toEqual(ids);
      usages.scaledUp = await usage(s.tenantId);

      // Drain the queue with an instance of our own (that heartbeats meanwhile, as an instance must).
      const key = await agentKey(ctx, s.operator, agentId, 'drainer');
      const heartbeat = () => ctx.http().post('/v1/agent/heartbeat').set(bearer(key)).send({ instanceId: 'drainer' }).then((r) => r.status);
      expect(await heartbeat()).toBe(200);
      const beating = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_MS);
      const drain = async () => {
        for (let done = 0; done < 100; ) {
          const res = await ctx.http().post('/v1/agent/tasks/poll').set(bearer(key)).send({ instanceId: 'drainer', maxTasks: 100, waitMs: 1000, lockMs: 60_000 });
          expect(res.status).toBe(200);
          for (const task of res.body.tasks as { taskId: string; lockToken: string }[]) {
            const c = await ctx.http().post(`/v1/agent/tasks/${task.taskId}/complete`).set(bearer(key)).send({ lockToken: task.lockToken, output: { drained: true } });
            expect({ status: c.status, body: c.body }).toEqual({ status: 200, body: { taskId: task.taskId } });
            done++;
          }
        }
      };
      try {
        await drain();
      } finally {
        clearInterval(beating);
      }
      for (const w of workflows) expect((await settledSaga(ctx, s.client, w)).status).toBe('COMPLETED');

      await waitFor(async () => (await agentDetail(ctx, s.client, agentId)).desiredInstances === 1, { timeoutMs: 15_000, what: 'desiredInstances back to 1' });
      const last = (await streamEvents(ctx, s.operator, `agent-${agentId}`)).filter((e) => e.type === 'AgentScaled').pop()!;
      expect(last.data).toEqual(expect.objectContaining({ to: 1 }));
      expect(await metricValue(agentId)).toBe(1);
      // The extra instances stop (their processes exit, they fall silent); the first one stays.
      await waitFor(() => runtimeChildren(agentId).length === 1, { timeoutMs: 15_000, what: 'one process left' });
      expect(runtimeChildren(agentId).map((c) => c.instanceId)).toEqual([ids[0]]);
      const after = await waitFor(async () => {
        const a = await agentDetail(ctx, s.client, agentId);
        const byId = Object.fromEntries(a.instances.map((i) => [i.instanceId, i.status]));
        return ids.slice(1).every((id) => byId[id] === 'OFFLINE') && byId[ids[0]] === 'HEALTHY' && a;
      }, { timeoutMs: 15_000, what: 'the 3 extra instances OFFLINE, the first HEALTHY' });
      expect(after.instances.filter((i) => i.instanceId !== 'drainer').length).toBe(4);
      usages.scaledDown = await usage(s.tenantId);
    });

    it('instances cost quota (DESIGN.md "Scaling"): scaling up to 4 reserves 3 more instances’ resources, scaling down releases them', () => {
      expect(usages.provisioned).toEqual(RESOURCES);
      expect(usages.scaledUp).toEqual({ cpuMillis: 4 * RESOURCES.cpuMillis, memoryMb: 4 * RESOURCES.memoryMb });
      expect(usages.scaledDown).toEqual(RESOURCES);
    });

    it('with the `example` type the instances do the work: 4 heartbeat while the queue is deep, and once it drained desired is back to 1 and the extra instances stop', async () => {
      const capability = `busy-${randomUUID().slice(0, 8)}`;
      const { sagaId, agentId } = await provisionAgent(ctx, t, {
        name: `busy-${randomUUID().slice(0, 8)}`,
        type: 'example',
        capabilities: [capability],
        permissions: ['read'],
        resources: RESOURCES,
        scaling,
      });
      expect((await settledSaga(ctx, t.client, sagaId)).status).toBe('COMPLETED');
      await waitFor(async () => healthyInstances(await agentDetail(ctx, t.client, agentId)).length === 1, { timeoutMs: 30_000, what: 'first instance' });

      const workflows = [
        await startAgentWorkflow(ctx, t.client, capability, 50, (i) => ({ n: i, sleepMs: 200 })),
        await startAgentWorkflow(ctx, t.client, capability, 50, (i) => ({ n: 50 + i, sleepMs: 200 })),
      ];
      let most = 0;
      const seen = new Set<string>();
      const watcher = setInterval(() => {
        void agentDetail(ctx, t.client, agentId)
          .then((a) => {
            const healthy = healthyInstances(a);
            healthy.forEach((id) => seen.add(id));
            most = Math.max(most, healthy.length);
          })
          .catch(() => undefined);
      }, 100);
      try {
        await waitFor(() => most >= 4, { timeoutMs: 30_000, what: '4 instances heartbeating at once' });
        const done = await Promise.all(workflows.map((w) => settledSaga(ctx, t.client, w, 60_000)));
        expect(done.map((d) => d.status)).toEqual(['COMPLETED', 'COMPLETED']);
        const handledBy = new Set(done.flatMap((d) => d.steps.map((st) => (st.output as { handledBy: string }).handledBy)));
        expect(handledBy.size).toBeGreaterThanOrEqual(2);
        for (const w of workflows) expect(await stepsSucceededTwice(ctx, t.client, w)).toEqual([]);
      } finally {
        clearInterval(watcher);
      }
      expect(seen.size).toBe(4);
      await waitFor(async () => (await agentDetail(ctx, t.client, agentId)).desiredInstances === 1, { timeoutMs: 15_000, what: 'desiredInstances back to 1' });
      await waitFor(() => runtimeChildren(agentId).length === 1, { timeoutMs: 20_000, what: 'the extra processes stopped' });
      const toValues = (await agentEvents(agentId)).filter((e) => e.type === 'AgentScaled').map((e) => e.data.to);
      expect(Math.max(...(toValues as number[]))).toBe(4);
      expect(toValues[toValues.length - 1]).toBe(1);
    });
  });

  it('a Python 3 agent (standard library only) heartbeats, polls and completes a workflow’s task', async () => {
    const capability = `py-${randomUUID().slice(0, 8)}`;
    const { sagaId: provisioningId, agentId } = await provisionAgent(ctx, t, {
      name: `python-${randomUUID().slice(0, 8)}`,
      type: 'python',
      capabilities: [capability],
      permissions: ['read'],
      resources: RESOURCES,
    });
    expect((await settledSaga(ctx, t.client, provisioningId)).status).toBe('COMPLETED');
    const key = await agentKey(ctx, t.operator, agentId, 'python');
    const py = AgentProcess.spawn('python agent', ['python3', PYTHON_AGENT], agentEnv(apiUrl, key, 'py-1'));
    await waitFor(async () => (await agentDetail(ctx, t.client, agentId)).instances.some((i) => i.instanceId === 'py-1' && i.status === 'HEALTHY'), {
      timeoutMs: 20_000,
      what: () => `python instance heartbeating (output: ${py.output})`,
    });

    const sagaId = await startAgentWorkflow(ctx, t.client, capability, 1, () => ({ greeting: 'hello from a workflow', n: 7 }));
    const done = await settledSaga(ctx, t.client, sagaId, 30_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.steps).toEqual([expect.objectContaining({ name: 't0', status: 'SUCCEEDED', output: { handledBy: 'python', echo: { greeting: 'hello from a workflow', n: 7 } } })]);
    await py.untilOutput(/completed task [0-9a-f-]{36}/);
    // It keeps heartbeating while idle, and stops cleanly on SIGTERM.
    const beat = (await agentDetail(ctx, t.client, agentId)).instances.find((i) => i.instanceId === 'py-1')!.lastHeartbeatAt;
    await waitFor(async () => (await agentDetail(ctx, t.client, agentId)).instances.find((i) => i.instanceId === 'py-1')!.lastHeartbeatAt !== beat, { what: 'another heartbeat' });
    expect(await py.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
