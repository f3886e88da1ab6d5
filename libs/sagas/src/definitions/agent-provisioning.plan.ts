import { STEP_PRIORITY, SagaPlan, stepPlan } from '../core/saga.types';

export interface AgentProvisioningInput {
  agent: {
    name: string;
    type: string;
    capabilities: string[];
    permissions: string[];
    resources: { cpuMillis: number; memoryMb: number };
    /** `handler: "agent"`: the task runs on the agent being provisioned (see DESIGN.md "Provisioning ties in"). */
    initialTask?: { name: string; handler: string; config?: unknown; queue?: { ttlMs?: number } };
    scaling?: {
      strategy: 'FIXED' | 'WORKLOAD_BASED' | 'PERFORMANCE_BASED' | 'AUTO';
      min: number;
      max: number;
      targetPendingPerInstance?: number;
      targetCpuPercent?: number;
    };
  };
}

/** The initial-task handler that runs the task on the agent being provisioned. */
export const AGENT_INITIAL_TASK_HANDLER = 'agent';
/** How long the agent being provisioned has to take its initial task, unless the body says. */
export const DEFAULT_INITIAL_TASK_TTL_MS = 120_000;

/** Instances whose resources the provisioning reserves from the tenant quota: the policy's min (at least one). */
export function reservedInstances(input: AgentProvisioningInput): number {
  return Math.max(1, input.agent.scaling?.min ?? 1);
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
export function agentProvisioningPlan(input: AgentProvisioningInput): SagaPlan {
  const onAgent = input.agent?.initialTask?.handler === AGENT_INITIAL_TASK_HANDLER;
  const steps = AGENT_PROVISIONING_STEPS.map((name, i) =>
    stepPlan(name, {
      dependsOn: i === 0 ? [] : [AGENT_PROVISIONING_STEPS[i - 1]],
      priority: STEP_PRIORITY.NORMAL,
      compensable: name !== PIVOT,
      // The agent's own instance must take it: it may need one TTL, not one step timeout; and
      // an expiry is final (the agent never came up), not a reason to queue it again.
      ...(name === 'run-initial-task' && onAgent ? { external: true, retry: { maxAttempts: 1 } } : {}),
    }),
  );
  return { sagaType: 'agent-provisioning', maxParallel: 1, steps };
}
