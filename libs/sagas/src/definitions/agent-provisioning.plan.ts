import { STEP_PRIORITY, SagaPlan, stepPlan } from '../core/saga.types';

export interface AgentProvisioningInput {
  agent: {
    name: string;
    type: string;
    capabilities: string[];
    permissions: string[];
    resources: { cpuMillis: number; memoryMb: number };
    initialTask?: { name: string; handler: string; config?: unknown };
  };
}

export const AGENT_PROVISIONING_STEPS = [
  'register-agent',
  'reserve-resources',
  'grant-permissions',
  'register-service',
  'run-initial-task',
  'activate-agent',
] as const;

export type AgentProvisioningStep = (typeof AGENT_PROVISIONING_STEPS)[number];

/** `activate-agent` is the pivot: once it succeeded the saga only goes forward. */
const PIVOT: AgentProvisioningStep = 'activate-agent';

/**
 * The six steps in a chain, one at a time. `run-initial-task` is in every plan; without an
 * `initialTask` the executor completes it at once, so every saga has the same shape.
 */
export function agentProvisioningPlan(_input: AgentProvisioningInput): SagaPlan {
  const steps = AGENT_PROVISIONING_STEPS.map((name, i) =>
    stepPlan(name, {
      dependsOn: i === 0 ? [] : [AGENT_PROVISIONING_STEPS[i - 1]],
      priority: STEP_PRIORITY.NORMAL,
      compensable: name !== PIVOT,
    }),
  );
  return { sagaType: 'agent-provisioning', maxParallel: 1, steps };
}
