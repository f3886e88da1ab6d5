export * from './agent-work.port';
export { AgentWorkService, AgentWorkOptions } from './work/agent-work.service';
export { ServiceRegistry } from './work/service-registry';
export { AgentTaskQueue, AgentFleetTables } from './queue/agent-task-queue';
export { TaskWaiters } from './queue/task-waiters';
export { QueueListener } from './queue/queue-listener';
export { AGENT_TASKS_CHANNEL, AgentTaskRow, queueDepths, sagaTasks } from './queue/postgres/agent-tasks';
export { instancesOf } from './queue/postgres/agent-instances';
export { AgentMonitor, AgentMonitorOptions, MAX_LOCK_EXPIRIES, issueRuntimeKey } from './monitor/agent-monitor';
export {
  SCALING_STRATEGIES,
  ScalingStrategy,
  ScalingPolicy,
  DEFAULT_SCALING,
  MAX_INSTANCES,
  ScalingPolicyProblem,
  validateScalingPolicy,
  ScalingObservation,
  ScalingDecision,
  decideScale,
} from './scaling/scaling-policy';
export {
  UNHEALTHY_AFTER_INTERVALS,
  OFFLINE_AFTER_INTERVALS,
  InstanceHeartbeat,
  instanceStatus,
  serviceStatusOf,
  serviceStatusWithoutInstances,
  agentServiceStatus,
  nextHealthCheckDelayMs,
} from './health/instance-health';
export { AgentTypeCommand, RuntimeConfig, RUNTIME_CONFIG_ENV, EXAMPLE_AGENT_TYPE, defaultRuntimeTypes, loadRuntimeConfig, commandFor } from './runtime/runtime-config';
export { LocalAgentRuntime, LocalAgentRuntimeOptions, LocalRuntimeTarget, LocalInstanceView, INHERITED_ENV, instanceIdFor } from './runtime/local-runtime';
