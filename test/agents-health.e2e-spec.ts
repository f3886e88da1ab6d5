import { randomUUID } from 'crypto';
import { delay, waitFor } from '@app/database';
import { DeliveredMessage, MESSAGE_BUS, MessageBus, Subscription } from '@app/messaging';
import {
  agentDetail,
  agentEnv,
  agentKey,
  AgentProcess,
  exampleAgentCommand,
  isAlive,
  LOCKER_JS,
  provisionAgent,
  runtimeChildren,
  sagaView,
  settledSaga,
  startAgentWorkflow,
  stepsSucceededTwice,
  StoredEvent,
  streamEvents,
} from './support/agent-processes';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { freePort } from './support/spawn-platform';

jest.setTimeout(120_000);

const HEARTBEAT_MS = 500;
/** Scheduling, monitor ticks and a busy 2-core machine: how late a status change may be. */
const MARGIN_MS = 2000;

interface IntegrationEvent {
  type: string;
  eventId: string;
  agentId?: string;
  tenantId: string;
  data: { from?: string; to?: string; status?: string; reason?: string };
  at: string;
}

/**
 * Agent health (API.md "Agents: the work protocol", Health; DESIGN.md "Agents"): silent instances
 * go UNHEALTHY after 3 heartbeat intervals and OFFLINE after 6, the service follows its best
 * instance (events, integration events, the registry), an OFFLINE instance's locks go back to the
 * queue at once (self-healing), and the local runtime restarts a crashed instance.
 */
describe('agent health and self-healing', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let apiUrl: string;
  let bus: MessageBus;
  let subscription: Subscription;
  const published: IntegrationEvent[] = [];

  const serviceChanges = async (agentId: string, afterVersion = -1) =>
    (await streamEvents(ctx, t.operator, `service-${agentId}`)).filter((e) => e.type === 'ServiceStatusChanged' && e.version > afterVersion);
  const serviceVersion = async (agentId: string) => {
    const events = await streamEvents(ctx, t.operator, `service-${agentId}`);
    return events[events.length - 1].version;
  };
  const serviceStatus = async (agentId: string) => {
    const res = await ctx.http().get(`/v1/streams/service-${agentId}/state`).set(bearer(t.operator));
    return res.body.state?.status as string | undefined;
  };
  const servicesWithStatus = async (status: string) => {
    const res = await ctx.http().get(`/v1/services?status=${status}&limit=500`).set(bearer(t.client));
    expect(res.status).toBe(200);
    return (res.body.items as { agentId: string; status: string }[]).map((s) => s.agentId);
  };
  const instance = async (agentId: string, instanceId: string) => (await agentDetail(ctx, t.client, agentId)).instances.find((i) => i.instanceId === instanceId);
  const lockAll = async (agentId: string, capability: string, instanceId: string) => {
    const key = await agentKey(ctx, t.operator, agentId, instanceId);
    const locker = AgentProcess.node(instanceId, LOCKER_JS, agentEnv(apiUrl, key, instanceId, { LOCK_TASKS: '10', LOCK_MS: '60000' }));
    await locker.untilOutput(/HEARTBEAT/);
    const sagaId = await startAgentWorkflow(ctx, t.client, capability, 10);
    await locker.untilOutput(/ALL_LOCKED 10/);
    const locked = [...locker.output.matchAll(/LOCKED (\{.*\})/g)].map((m) => JSON.parse(m[1]) as { taskId: string; sagaId: string; lockedUntil: string });
    expect(locked).toHaveLength(10);
    expect(new Set(locked.map((l) => l.sagaId))).toEqual(new Set([sagaId]));
    // Locked for a minute: only the self-healing can give them back before that.
    for (const l of locked) expect(Date.parse(l.lockedUntil)).toBeGreaterThan(Date.now() + 50_000);
    return { locker, sagaId, key };
  };
  const queueOf = async (capability: string) => {
    const res = await ctx.http().get('/v1/queues').set(bearer(t.operator));
    expect(res.status).toBe(200);
    return (res.body as { capability: string; pending: number; locked: number }[]).find((q) => q.capability === capability);
  };

  beforeAll(async () => {
    const port = await freePort();
    ({ ctx, t } = await startE2eAppWithTenants({
      redis: true,
      agents: { heartbeatIntervalMs: HEARTBEAT_MS, runtime: 'local', apiUrl: `http://127.0.0.1:${port}` },
    }));
    apiUrl = await ctx.listen(port);
    bus = ctx.app.get<MessageBus>(MESSAGE_BUS);
    // A group of our own from now on: the shared stream also carries other spec files' events.
    subscription = await bus.subscribe('saga.events', `e2e-agents-health-${randomUUID()}`, async (m: DeliveredMessage) => {
      const payload = m.payload as IntegrationEvent;
      if (payload.tenantId === t.tenantId) published.push(payload);
    });
  });

  afterAll(async () => {
    await AgentProcess.killLeftovers();
    await subscription?.close();
    await ctx?.close();
  });

  it('the only instance SIGKILLed with 10 locked tasks: its service goes UNHEALTHY then OFFLINE within 6 intervals (events, registry, Redis), its tasks go back to the queue, and a new instance finishes them', async () => {
    const capability = `heal-only-${randomUUID().slice(0, 8)}`;
    const { sagaId: provisioningId, agentId } = await provisionAgent(ctx, t, {
      name: `lonely-${randomUUID().slice(0, 8)}`,
      type: 'worker',
      capabilities: [capability],
      permissions: ['read'],
      resources: { cpuMillis: 100, memoryMb: 128 },
    });
    expect((await settledSaga(ctx, t.client, provisioningId)).status).toBe('COMPLETED');

    const { locker, sagaId } = await lockAll(agentId, capability, 'lonely-1');
    await waitFor(async () => (await serviceStatus(agentId)) === 'HEALTHY', { what: 'service HEALTHY while the instance heartbeats' });
    const before = await serviceVersion(agentId);

    const killedAt = Date.now();
    expect((await locker.kill('SIGKILL')).signal).toBe('SIGKILL');

    const changes = await waitFor(
      async () => {
        const c = await serviceChanges(agentId, before);
        return c.some((e) => e.data.to === 'OFFLINE') && c;
      },
      { timeoutMs: 6 * HEARTBEAT_MS + MARGIN_MS + 3000, intervalMs: 50, what: `service-${agentId} OFFLINE` },
    );
    expect(changes.map((e) => e.data)).toEqual([
      expect.objectContaining({ agentId, status: 'UNHEALTHY', from: 'HEALTHY', to: 'UNHEALTHY', reason: expect.stringMatching(/3 intervals/) }),
      expect.objectContaining({ agentId, status: 'OFFLINE', from: 'UNHEALTHY', to: 'OFFLINE', reason: expect.stringMatching(/6 intervals/) }),
    ]);
    // UNHEALTHY 3 intervals after the last heartbeat, OFFLINE 6 after it (not before, and not much later).
    const dead = await instance(agentId, 'lonely-1');
    expect(dead).toEqual(expect.objectContaining({ status: 'OFFLINE' }));
    const lastBeat = Date.parse(dead!.lastHeartbeatAt);
    expect(lastBeat).toBeLessThanOrEqual(killedAt + 100);
    const [unhealthyAt, offlineAt] = changes.map((e: StoredEvent) => Date.parse(e.recordedAt));
    expect(unhealthyAt - lastBeat).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS - 50);
    expect(unhealthyAt - lastBeat).toBeLessThanOrEqual(3 * HEARTBEAT_MS + MARGIN_MS);
    expect(offlineAt - lastBeat).toBeGreaterThanOrEqual(6 * HEARTBEAT_MS - 50);
    expect(offlineAt - lastBeat).toBeLessThanOrEqual(6 * HEARTBEAT_MS + MARGIN_MS);
    // So within 6 intervals (+ margin) of the kill.
    expect(offlineAt - killedAt).toBeLessThanOrEqual(6 * HEARTBEAT_MS + MARGIN_MS);

    // The registry, and the queue.
    await waitFor(async () => (await servicesWithStatus('OFFLINE')).includes(agentId), { what: 'GET /v1/services?status=OFFLINE lists the service' });
    expect(await servicesWithStatus('HEALTHY')).not.toContain(agentId);
    await waitFor(async () => {
      const q = await queueOf(capability);
      return q?.pending === 10 && q.locked === 0;
    }, { what: 'the 10 tasks of the OFFLINE instance back in the queue, long before their locks would expire' });

    // Integration events on Redis (topic saga.events), in order.
    const onRedis = await waitFor(
      () => {
        const mine = published.filter((p) => p.type === 'service.status_changed' && p.agentId === agentId && Date.parse(p.at) >= killedAt - 100);
        return mine.some((p) => p.data.to === 'OFFLINE') && mine;
      },
      { timeoutMs: 10_000, what: `service.status_changed of ${agentId} on Redis` },
    );
    expect(onRedis.map((p) => [p.data.from, p.data.to])).toEqual([
      ['HEALTHY', 'UNHEALTHY'],
      ['UNHEALTHY', 'OFFLINE'],
    ]);
    expect(onRedis[0]).toEqual(expect.objectContaining({ eventId: changes[0].eventId, agentId, tenantId: t.tenantId, at: expect.any(String) }));

    // A new instance comes up: the service is HEALTHY again and the tasks are done, each once.
    const rescuerKey = await agentKey(ctx, t.operator, agentId, 'rescuer');
    const rescuer = AgentProcess.spawn('rescuer', exampleAgentCommand(), agentEnv(apiUrl, rescuerKey, 'lonely-2', { SAGA_AGENT_CONCURRENCY: '10' }));
    const done = await settledSaga(ctx, t.client, sagaId, 30_000);
    expect(done.status).toBe('COMPLETED');
    for (const step of done.steps) expect(step.output).toEqual(expect.objectContaining({ handledBy: 'lonely-2', capability }));
    expect(await stepsSucceededTwice(ctx, t.client, sagaId)).toEqual([]);
    await waitFor(async () => (await serviceStatus(agentId)) === 'HEALTHY', { what: 'service HEALTHY again' });
    const back = (await serviceChanges(agentId, before)).slice(2).map((e) => [e.data.from, e.data.to]);
    expect(back).toEqual([['OFFLINE', 'HEALTHY']]);
    expect((await rescuer.kill('SIGTERM')).code).toBe(0);
  });

  it('one of two instances SIGKILLed with 10 locked tasks: the service stays HEALTHY, the dead instance goes OFFLINE, and the other instance does its tasks long before their 60 s locks would expire', async () => {
    const capability = `heal-pair-${randomUUID().slice(0, 8)}`;
    const { sagaId: provisioningId, agentId } = await provisionAgent(ctx, t, {
      name: `pair-${randomUUID().slice(0, 8)}`,
      type: 'worker',
      capabilities: [capability],
      permissions: ['read'],
      resources: { cpuMillis: 100, memoryMb: 128 },
      scaling: { strategy: 'FIXED', min: 2, max: 2 },
    });
    expect((await settledSaga(ctx, t.client, provisioningId)).status).toBe('COMPLETED');

    const { locker, sagaId } = await lockAll(agentId, capability, 'pair-1');
    // The second instance comes up only now: every task is locked by the first.
    const healthyKey = await agentKey(ctx, t.operator, agentId, 'pair-2');
    const healthy = AgentProcess.spawn('pair-2', exampleAgentCommand(), agentEnv(apiUrl, healthyKey, 'pair-2', { SAGA_AGENT_CONCURRENCY: '10' }));
    await waitFor(async () => (await instance(agentId, 'pair-2'))?.status === 'HEALTHY', { what: 'second instance heartbeating' });
    await waitFor(async () => (await serviceStatus(agentId)) === 'HEALTHY', { what: 'service HEALTHY' });
    expect((await sagaView(ctx, t.client, sagaId)).steps.every((s) => s.status === 'RUNNING')).toBe(true);
    const before = await serviceVersion(agentId);

    const killedAt = Date.now();
    expect((await locker.kill('SIGKILL')).signal).toBe('SIGKILL');

    const done = await settledSaga(ctx, t.client, sagaId, 30_000);
    const tookMs = Date.now() - killedAt;
    expect(done.status).toBe('COMPLETED');
    // OFFLINE after 6 silent intervals (3 s), then at once to the other instance: nowhere near the 60 s lock.
    expect(tookMs).toBeLessThan(6 * HEARTBEAT_MS + 10_000);
    for (const step of done.steps) {
      expect(step).toEqual(expect.objectContaining({ status: 'SUCCEEDED', attempts: 1 }));
      expect(step.output).toEqual(expect.objectContaining({ handledBy: 'pair-2', capability }));
    }
    expect(await stepsSucceededTwice(ctx, t.client, sagaId)).toEqual([]);
    expect((await ctx.http().get(`/v1/sagas/${sagaId}/events`).set(bearer(t.client))).body.events.filter((e: StoredEvent) => e.type === 'StepFailed')).toEqual([]);

    await waitFor(async () => (await instance(agentId, 'pair-1'))?.status === 'OFFLINE', { timeoutMs: 6 * HEARTBEAT_MS + MARGIN_MS + 2000, what: 'killed instance OFFLINE' });
    expect(await instance(agentId, 'pair-2')).toEqual(expect.objectContaining({ status: 'HEALTHY' }));
    // The service followed its best instance: no change at all since the kill.
    expect(await serviceChanges(agentId, before)).toEqual([]);
    expect(await serviceStatus(agentId)).toBe('HEALTHY');
    expect(await servicesWithStatus('HEALTHY')).toContain(agentId);
    expect(published.filter((p) => p.type === 'service.status_changed' && p.agentId === agentId && Date.parse(p.at) >= killedAt)).toEqual([]);
    expect((await healthy.kill('SIGTERM')).code).toBe(0);
  });

  it('the local runtime restarts a crashed instance: SIGKILL its process and the instance heartbeats again from a new one', async () => {
    const capability = `restart-${randomUUID().slice(0, 8)}`;
    const { sagaId: provisioningId, agentId } = await provisionAgent(ctx, t, {
      name: `local-${randomUUID().slice(0, 8)}`,
      type: 'example',
      capabilities: [capability],
      permissions: ['read'],
      resources: { cpuMillis: 100, memoryMb: 128 },
    });
    expect((await settledSaga(ctx, t.client, provisioningId)).status).toBe('COMPLETED');

    const first = await waitFor(
      async () => {
        const i = (await agentDetail(ctx, t.client, agentId)).instances;
        return i.length === 1 && i[0].status === 'HEALTHY' && i[0];
      },
      { timeoutMs: 30_000, what: 'the local runtime’s instance heartbeating' },
    );
    const [child] = await waitFor(() => {
      const c = runtimeChildren(agentId);
      return c.length === 1 && c;
    }, { what: `exactly one child process of agent ${agentId}` });
    expect(child.instanceId).toBe(first.instanceId);

    const killedAt = Date.now();
    process.kill(child.pid, 'SIGKILL');
    await waitFor(() => !isAlive(child.pid), { what: `pid ${child.pid} gone` });

    const restarted = await waitFor(() => {
      const c = runtimeChildren(agentId);
      return c.length === 1 && c[0].pid !== child.pid && c[0];
    }, { timeoutMs: 15_000, what: 'a new process for the instance' });
    expect(restarted.instanceId).toBe(child.instanceId);
    await waitFor(
      async () => {
        const i = await instance(agentId, first.instanceId);
        return i?.status === 'HEALTHY' && Date.parse(i.lastHeartbeatAt) > killedAt + HEARTBEAT_MS && i;
      },
      { timeoutMs: 20_000, what: 'a heartbeat of the restarted instance' },
    );
    expect(isAlive(child.pid)).toBe(false);

    // And it works.
    const sagaId = await startAgentWorkflow(ctx, t.client, capability, 1);
    const done = await settledSaga(ctx, t.client, sagaId);
    expect(done.status).toBe('COMPLETED');
    expect(done.steps[0].output).toEqual(expect.objectContaining({ handledBy: first.instanceId, capability }));
  });

  it('every saga of the tenant completed, and no step succeeded twice', async () => {
    await delay(200);
    const res = await ctx.http().get('/v1/sagas?limit=500').set(bearer(t.client));
    expect(res.status).toBe(200);
    const sagas = res.body.items as { sagaId: string; type: string; status: string }[];
    expect(sagas.length).toBeGreaterThanOrEqual(6);
    expect(sagas.filter((s) => s.status !== 'COMPLETED')).toEqual([]);
    for (const s of sagas) expect({ saga: s.sagaId, twice: await stepsSucceededTwice(ctx, t.client, s.sagaId) }).toEqual({ saga: s.sagaId, twice: [] });
  });
});
