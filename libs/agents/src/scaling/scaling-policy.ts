/**
 * The scaling policy of an agent (API.md "Agents: the work protocol", Scaling): how many instances
 * it should run, as a pure function of queue depth, reported load, the policy and the tenant quota.
 * Its result becomes an `AgentScaled` event, the `saga_agent_desired_instances` metric and the
 * local runtime's target.
 */

export const SCALING_STRATEGIES = ['FIXED', 'WORKLOAD_BASED', 'PERFORMANCE_BASED', 'AUTO'] as const;
export type ScalingStrategy = (typeof SCALING_STRATEGIES)[number];

export interface ScalingPolicy {
  strategy: ScalingStrategy;
  min: number;
  max: number;
  /** WORKLOAD_BASED / AUTO: pending tasks one instance should have in front of it. */
  targetPendingPerInstance?: number;
  /** PERFORMANCE_BASED / AUTO: the average CPU % the instances should run at. */
  targetCpuPercent?: number;
}

export const DEFAULT_SCALING: Readonly<ScalingPolicy> = Object.freeze({ strategy: 'FIXED', min: 1, max: 1 });

/** Beyond this an agent is a fleet that belongs to an orchestrator, not to a policy field. */
export const MAX_INSTANCES = 100;

export interface ScalingPolicyProblem {
  field: keyof ScalingPolicy;
  message: string;
}

/** Every problem of the policy (none: it is valid), each naming its field, for a 400 response. */
export function validateScalingPolicy(p: ScalingPolicy): ScalingPolicyProblem[] {
  const problems: ScalingPolicyProblem[] = [];
  const problem = (field: keyof ScalingPolicy, message: string) => problems.push({ field, message });
  const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);
  const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

  if (!SCALING_STRATEGIES.includes(p.strategy)) problem('strategy', `must be one of ${SCALING_STRATEGIES.join(', ')}`);
  const minOk = isInt(p.min) && p.min >= 0;
  if (!minOk) problem('min', 'must be an integer >= 0');
  if (!isInt(p.max) || p.max < 1) problem('max', 'must be an integer >= 1');
  else if (p.max > MAX_INSTANCES) problem('max', `must be at most ${MAX_INSTANCES}`);
  else if (minOk && p.max < p.min) problem('max', `must be >= min (${p.min})`);
  if (minOk && p.min > MAX_INSTANCES) problem('min', `must be at most ${MAX_INSTANCES}`);

  const pendingSet = p.targetPendingPerInstance !== undefined;
  const cpuSet = p.targetCpuPercent !== undefined;
  if (pendingSet && !(isInt(p.targetPendingPerInstance) && p.targetPendingPerInstance >= 1)) {
    problem('targetPendingPerInstance', 'must be an integer >= 1');
  }
  if (cpuSet && !(isNum(p.targetCpuPercent) && p.targetCpuPercent >= 1 && p.targetCpuPercent <= 100)) {
    problem('targetCpuPercent', 'must be a number from 1 to 100');
  }
  if (p.strategy === 'WORKLOAD_BASED' && !pendingSet) problem('targetPendingPerInstance', 'is required by WORKLOAD_BASED');
  if (p.strategy === 'PERFORMANCE_BASED' && !cpuSet) problem('targetCpuPercent', 'is required by PERFORMANCE_BASED');
  if (p.strategy === 'AUTO' && !pendingSet && !cpuSet) {
    problem('targetPendingPerInstance', 'AUTO needs targetPendingPerInstance or targetCpuPercent (or both)');
  }
  return problems;
}

export interface ScalingObservation {
  /** Instances the agent runs now (its live instances). */
  currentInstances: number;
  /** Pending tasks for the agent's capabilities. */
  pendingTasks: number;
  /** CPU % reported by the live instances (one entry per instance that reported). */
  cpuPercents: number[];
  /** How many instances the tenant quota allows at most (those running included); undefined = unlimited. */
  quotaInstances?: number;
}

export interface ScalingDecision {
  desired: number;
  /** A short sentence for the `AgentScaled` event and the operator. */
  reason: string;
  /** The quota held the target below what the policy asked for. */
  cappedByQuota?: boolean;
  /** With cappedByQuota: what the policy asked for. */
  uncapped?: number;
}

interface Suggestion {
  count: number;
  says: string;
}

/**
 * How many instances the agent should run:
 * - FIXED: `min`;
 * - WORKLOAD_BASED: ceil(pending ÷ targetPendingPerInstance) — an empty queue drains to `min`;
 * - PERFORMANCE_BASED: ceil(current × average CPU ÷ targetCpuPercent); with no CPU reports there is
 *   no signal, so the current count is kept;
 * - AUTO: the larger of the rules that apply (a target is set and, for CPU, someone reported) — so an
 *   agent whose instances never report CPU still drains with its queue; none applies: keep current;
 * then clamped to [min, max], then capped at `quotaInstances`. The quota is a hard limit: when it
 * cannot even hold `min`, the target is the quota (below `min`) and the decision says so — the
 * alternative, asking for instances the quota refuses, would only fail later at reservation time.
 *
 * Expects a valid policy (validateScalingPolicy); a rule whose target is missing does not apply.
 */
export function decideScale(policy: ScalingPolicy, observation: ScalingObservation): ScalingDecision {
  const current = wholeAtLeastZero(observation.currentInstances);
  const rule = suggestion(policy, { ...observation, currentInstances: current });
  const { min, max } = policy;

  let clamped = rule.count;
  let bound = `within [${min}, ${max}]`;
  if (rule.count < min) [clamped, bound] = [min, `raised to min ${min}`];
  else if (rule.count > max) [clamped, bound] = [max, `clamped to max ${max}`];
  const reason = policy.strategy === 'FIXED' ? rule.says : `${rule.says}, ${bound}`;

  const capped = quotaCap(observation.quotaInstances);
  if (capped !== undefined && clamped > capped) {
    const belowMin = capped < min ? ` (below min ${min})` : '';
    return {
      desired: capped,
      reason: `${reason}; capped at ${capped} by the tenant quota${belowMin}`,
      cappedByQuota: true,
      uncapped: clamped,
    };
  }
  return { desired: clamped, reason };
}

function suggestion(policy: ScalingPolicy, o: ScalingObservation): Suggestion {
  const keep = (why: string): Suggestion => ({ count: o.currentInstances, says: `${why}: keeping ${o.currentInstances}` });
  switch (policy.strategy) {
    case 'FIXED':
      return { count: policy.min, says: `fixed at min ${policy.min}` };
    case 'WORKLOAD_BASED':
      return byWorkload(policy, o) ?? keep('no targetPendingPerInstance');
    case 'PERFORMANCE_BASED':
      if (policy.targetCpuPercent === undefined) return keep('no targetCpuPercent');
      return byPerformance(policy, o) ?? keep('no CPU reports');
    case 'AUTO': {
      const applicable = [byWorkload(policy, o), byPerformance(policy, o)].filter((s): s is Suggestion => s !== undefined);
      if (applicable.length === 0) return keep('no workload target and no CPU reports');
      if (applicable.length === 1) return applicable[0];
      const [w, p] = applicable;
      const larger = w.count >= p.count ? w : p;
      return { count: larger.count, says: `larger of workload (${w.says}) and performance (${p.says}) = ${larger.count}` };
    }
    default:
      return keep(`unknown strategy ${String(policy.strategy)}`);
  }
}

function byWorkload(policy: ScalingPolicy, o: ScalingObservation): Suggestion | undefined {
  const target = policy.targetPendingPerInstance;
  if (target === undefined || !(target > 0)) return undefined;
  const pending = wholeAtLeastZero(o.pendingTasks);
  const count = ceil(pending / target);
  return { count, says: `${pending} pending ÷ ${target} per instance = ${count}` };
}

/** Undefined without a target or without a single CPU report (no signal). */
function byPerformance(policy: ScalingPolicy, o: ScalingObservation): Suggestion | undefined {
  const target = policy.targetCpuPercent;
  const reports = o.cpuPercents.filter((c) => Number.isFinite(c)).map((c) => Math.max(0, c));
  if (target === undefined || !(target > 0) || reports.length === 0) return undefined;
  const avg = reports.reduce((a, b) => a + b, 0) / reports.length;
  const count = ceil((o.currentInstances * avg) / target);
  return { count, says: `${o.currentInstances} instances × ${round1(avg)}% avg CPU ÷ ${target}% target = ${count}` };
}

/** Ceil that forgives floating-point noise (3 × 70 ÷ 70 must not become 4). */
function ceil(x: number): number {
  return Math.max(0, Math.ceil(x - 1e-9));
}

/** Undefined (or +Infinity): unlimited; anything else is a whole number of instances, at least 0. */
function quotaCap(quota: number | undefined): number | undefined {
  return quota === undefined || quota === Infinity ? undefined : wholeAtLeastZero(quota);
}

function wholeAtLeastZero(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
