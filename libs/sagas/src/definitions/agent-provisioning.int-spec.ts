import { createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { createTenant, sagaEvents, stepsOf, streamEvents, waitForStatus } from '../testing/int-spec-helpers';
import { agentIdOf, initialTaskIdOf } from './agent-provisioning.saga';
import { toCompensationsView } from '../core/saga-view';

// AgentProvisioningSaga end to end on a real PostgreSQL: the six steps, and each way it is undone.

jest.setTimeout(60_000);

let tdb: TestDatabase;
let rt: ReturnType<typeof createSagaRuntime>;

beforeAll(async () => {
  tdb = await createTestDatabase({ poolSize: 8 });
  rt = createSagaRuntime(tdb.pool, { pollIntervalMs: 50 });
  await rt.executor.startWorker();
});
afterAll(async () => {
  await rt?.executor.stopWorker();
  await tdb?.drop();
});

const ALL_STEPS = ['register-agent', 'reserve-resources', 'grant-permissions', 'register-service', 'run-initial-task', 'activate-agent'];

function agent(name: string, overrides: Record<string, unknown> = {}) {
  return {
    agent: {
      name,
      type: 'llm',
      capabilities: ['chat', 'search'],
      permissions: ['read'],
      resources: { cpuMillis: 500, memoryMb: 256 },
      initialTask: { name: 'smoke', handler: 'echo', config: { ping: 'pong' } },
      ...overrides,
    },
  };
}

let tenantSeq = 0;
/** A tenant of its own per test, so quota usage of one test never leaks into another. */
async function newTenant(quota = { cpuMillis: 4000, memoryMb: 4096 }): Promise<string> {
  const tenantId = `ap-${++tenantSeq}-${Date.now().toString(36)}`;
  await createTenant(rt.commands, tenantId, quota, ['read', 'write']);
  return tenantId;
}

async function quota(tenantId: string) {
  return (await rt.commands.load('quota', tenantId)).state as {
    used: { cpuMillis: number; memoryMb: number };
    reservations: Record<string, { cpuMillis: number; memoryMb: number }>;
  };
}

const types = async (streamId: string) => (await streamEvents(tdb.pool, streamId)).map((e) => e.type);

describe('AgentProvisioningSaga', () => {
  it('runs the six steps in order, activates the agent, registers its service and reserves its resources', async () => {
    const tenantId = await newTenant();
    const { sagaId, created } = await rt.executor.start({ tenantId, sagaType: 'agent-provisioning', input: agent('alpha') });
    expect(created).toBe(true);

    const state = await waitForStatus(rt.executor, sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPLETED');

    const events = await sagaEvents(tdb.pool, sagaId);
    expect(stepsOf(events, 'StepSucceeded')).toEqual(ALL_STEPS);
    expect(stepsOf(events, 'StepStarted')).toEqual(ALL_STEPS);
    expect(events.map((e) => e.type)).not.toContain('CompensationStarted');
    expect(events[events.length - 1].type).toBe('SagaCompleted');

    const agentId = agentIdOf(sagaId);
    expect(await types(`agent-${agentId}`)).toEqual(['AgentRegistered', 'PermissionsGranted', 'AgentActivated']);
    const agentState = (await rt.commands.load('agent', agentId)).state;
    expect(agentState).toMatchObject({ status: 'ACTIVE', name: 'alpha', tenantId, permissions: ['read'], sagaId });

    const service = await streamEvents(tdb.pool, `service-${agentId}`);
    expect(service.map((e) => e.type)).toEqual(['ServiceRegistered']);
    expect(service[0].data).toMatchObject({ agentId, tenantId, name: 'alpha', capabilities: ['chat', 'search'], status: 'HEALTHY' });

    const q = await quota(tenantId);
    expect(q.reservations[sagaId]).toEqual({ cpuMillis: 500, memoryMb: 256 });
    expect(q.used).toEqual({ cpuMillis: 500, memoryMb: 256 });

    // The initial task ran as a smoke test and its output is the step's output.
    expect(await types(`task-${initialTaskIdOf(sagaId)}`)).toEqual(['TaskScheduled', 'TaskStarted', 'TaskCompleted']);
    expect(state.steps['run-initial-task'].output).toEqual({ ping: 'pong' });
  });

  it('over quota: compensates only register-agent, decommissions the agent and reserves nothing', async () => {
    const tenantId = await newTenant({ cpuMillis: 1000, memoryMb: 1024 });
    const { sagaId } = await rt.executor.start({
      tenantId,
      sagaType: 'agent-provisioning',
      input: agent('greedy', { resources: { cpuMillis: 5000, memoryMb: 256 } }),
    });
    const state = await waitForStatus(rt.executor, sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failedStep).toBe('reserve-resources');
    expect(state.steps['reserve-resources'].error).toMatch(/QUOTA_EXCEEDED/);
    // A business refusal is not retried.
    expect(state.steps['reserve-resources'].attempts).toBe(1);

    const view = toCompensationsView(state);
    expect(view.status).toBe('COMPENSATED');
    expect(new Set(view.entries.map((e) => e.step))).toEqual(new Set(['register-agent']));
    expect(view.entries.map((e) => e.status)).toEqual(['STARTED', 'SUCCEEDED']);
    expect(stepsOf(await sagaEvents(tdb.pool, sagaId), 'StepCompensated')).toEqual(['register-agent']);

    const agentId = agentIdOf(sagaId);
    expect((await rt.commands.load('agent', agentId)).state.status).toBe('DECOMMISSIONED');
    expect(await types(`agent-${agentId}`)).toEqual(['AgentRegistered', 'AgentDecommissioned']);
    expect(await types(`service-${agentId}`)).toEqual([]);
    expect((await quota(tenantId)).used).toEqual({ cpuMillis: 0, memoryMb: 0 });
  });

  it('forbidden permission: compensates reserve-resources then register-agent, quota usage back to zero', async () => {
    const tenantId = await newTenant();
    const { sagaId } = await rt.executor.start({
      tenantId,
      sagaType: 'agent-provisioning',
      input: agent('rooted', { permissions: ['read', 'admin'] }),
    });
    const state = await waitForStatus(rt.executor, sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failedStep).toBe('grant-permissions');
    expect(state.steps['grant-permissions'].error).toMatch(/PERMISSION_NOT_ALLOWED/);

    const events = await sagaEvents(tdb.pool, sagaId);
    expect(stepsOf(events, 'StepSucceeded')).toEqual(['register-agent', 'reserve-resources']);
    expect(stepsOf(events, 'StepCompensated')).toEqual(['reserve-resources', 'register-agent']);
    expect(state.compensations.filter((e) => e.status === 'SUCCEEDED').map((e) => e.step)).toEqual(['reserve-resources', 'register-agent']);

    const agentId = agentIdOf(sagaId);
    expect(await types(`agent-${agentId}`)).toEqual(['AgentRegistered', 'AgentDecommissioned']);
    expect(await types(`quota-${tenantId}`)).toEqual(['QuotaSet', 'ResourcesReserved', 'ResourcesReleased']);
    const q = await quota(tenantId);
    expect(q.used).toEqual({ cpuMillis: 0, memoryMb: 0 });
    expect(q.reservations).toEqual({});
  });

  it('failing initial task: retried, then compensates register-service, grant-permissions, reserve-resources, register-agent', async () => {
    const tenantId = await newTenant();
    const { sagaId } = await rt.executor.start({
      tenantId,
      sagaType: 'agent-provisioning',
      input: agent('smoky', { initialTask: { name: 'smoke', handler: 'fail', config: { message: 'smoke test failed' } } }),
    });
    const state = await waitForStatus(rt.executor, sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failedStep).toBe('run-initial-task');
    expect(state.steps['run-initial-task']).toMatchObject({ status: 'FAILED', attempts: 3, error: 'smoke test failed' });

    const events = await sagaEvents(tdb.pool, sagaId);
    expect(stepsOf(events, 'StepCompensated')).toEqual(['register-service', 'grant-permissions', 'reserve-resources', 'register-agent']);
    expect(stepsOf(events, 'StepCompensationStarted')).toEqual(['register-service', 'grant-permissions', 'reserve-resources', 'register-agent']);
    expect(events.filter((e) => e.type === 'StepRetryScheduled').map((e) => e.data.nextAttempt)).toEqual([2, 3]);

    const agentId = agentIdOf(sagaId);
    expect(await types(`agent-${agentId}`)).toEqual(['AgentRegistered', 'PermissionsGranted', 'PermissionsRevoked', 'AgentDecommissioned']);
    expect(await types(`service-${agentId}`)).toEqual(['ServiceRegistered', 'ServiceDeregistered']);
    expect(await types(`task-${initialTaskIdOf(sagaId)}`)).toEqual([
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskStarted',
      'TaskFailed',
      'TaskStarted',
      'TaskFailed',
    ]);
    expect((await quota(tenantId)).used).toEqual({ cpuMillis: 0, memoryMb: 0 });
  });

  it('duplicate agent name: the second saga fails at register-service and compensates, the first agent is untouched', async () => {
    const tenantId = await newTenant();
    const first = await rt.executor.start({ tenantId, sagaType: 'agent-provisioning', input: agent('twin') });
    expect((await waitForStatus(rt.executor, first.sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'])).status).toBe('COMPLETED');

    const second = await rt.executor.start({ tenantId, sagaType: 'agent-provisioning', input: agent('twin') });
    const state = await waitForStatus(rt.executor, second.sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failedStep).toBe('register-service');
    expect(state.steps['register-service'].error).toMatch(/AGENT_NAME_TAKEN/);

    const events = await sagaEvents(tdb.pool, second.sagaId);
    expect(stepsOf(events, 'StepCompensated')).toEqual(['grant-permissions', 'reserve-resources', 'register-agent']);

    const secondAgent = agentIdOf(second.sagaId);
    expect((await rt.commands.load('agent', secondAgent)).state.status).toBe('DECOMMISSIONED');
    expect(await types(`service-${secondAgent}`)).toEqual([]);

    const firstAgent = agentIdOf(first.sagaId);
    expect((await rt.commands.load('agent', firstAgent)).state.status).toBe('ACTIVE');
    expect(await types(`service-${firstAgent}`)).toEqual(['ServiceRegistered']);
    const q = await quota(tenantId);
    expect(Object.keys(q.reservations)).toEqual([first.sagaId]);
    expect(q.used).toEqual({ cpuMillis: 500, memoryMb: 256 });
  });

  it('two concurrent sagas with the same agent name: exactly one completes, the other compensates', async () => {
    const tenantId = await newTenant();
    const [a, b] = await Promise.all([
      rt.executor.start({ tenantId, sagaType: 'agent-provisioning', input: agent('racer') }),
      rt.executor.start({ tenantId, sagaType: 'agent-provisioning', input: agent('racer') }),
    ]);
    const states = await Promise.all(
      [a, b].map((s) => waitForStatus(rt.executor, s.sagaId, ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'])),
    );
    expect(states.map((s) => s.status).sort()).toEqual(['COMPENSATED', 'COMPLETED']);
    const loser = states.find((s) => s.status === 'COMPENSATED')!;
    expect(loser.failedStep).toBe('register-service');
    const { rows } = await tdb.pool.query(`select agent_id from service_names where tenant_id = $1 and name = 'racer'`, [tenantId]);
    expect(rows.map((r) => r.agent_id)).toEqual([agentIdOf(states.find((s) => s.status === 'COMPLETED')!.sagaId)]);
    expect((await quota(tenantId)).used).toEqual({ cpuMillis: 500, memoryMb: 256 });
  });
});
