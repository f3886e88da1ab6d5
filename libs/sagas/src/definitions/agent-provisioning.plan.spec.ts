import { agentProvisioningPlan } from './agent-provisioning.plan';

describe('agentProvisioningPlan', () => {
  const plan = agentProvisioningPlan({
    agent: { name: 'a', type: 't', capabilities: [], permissions: [], resources: { cpuMillis: 1, memoryMb: 1 } },
  });

  it('chains the six steps one at a time', () => {
    expect(plan.sagaType).toBe('agent-provisioning');
    expect(plan.maxParallel).toBe(1);
    expect(plan.steps.map((s) => [s.name, s.dependsOn])).toEqual([
      ['register-agent', []],
      ['reserve-resources', ['register-agent']],
      ['grant-permissions', ['reserve-resources']],
      ['register-service', ['grant-permissions']],
      ['run-initial-task', ['register-service']],
      ['activate-agent', ['run-initial-task']],
    ]);
  });

  it('compensates every step but the pivot, with the default policies', () => {
    expect(plan.steps.filter((s) => !s.compensation).map((s) => s.name)).toEqual(['activate-agent']);
    expect(plan.steps[0]).toMatchObject({
      retry: { maxAttempts: 3, backoffMs: 200, multiplier: 2, maxBackoffMs: 30_000 },
      timeoutMs: 30_000,
      compensation: { retry: { maxAttempts: 5, backoffMs: 200, multiplier: 2, maxBackoffMs: 30_000 }, timeoutMs: 30_000 },
    });
  });
});
