export * from './core/saga.types';
export * from './core/saga.errors';
export * from './core/saga.events';
export * from './core/saga.commands';
export * from './core/saga.state';
export { sagaDecider, evolve, decide, foldSagaEvents, validatePlan, whyNotStartable } from './core/saga.decider';
export { nextWork } from './core/next-work';
export type { NextWork, SagaAction } from './core/next-work';
export { backoffDelayMs } from './core/retry';
export * from './core/dag';
export { renderTemplates, parseTemplates } from './core/templates';
export type { TemplateReference, ParsedTemplate } from './core/templates';
export * from './core/saga-view';
export * from './definitions/agent-provisioning.plan';
export * from './definitions/task-workflow.plan';

// Execution (infrastructure: PostgreSQL-backed executor and the effects of the saga types)
export { SagaDefinition, StepContext, StepOutcome, StepFailure } from './definitions/saga-definition';
export { SagaExecutor } from './executor/saga-executor';
export { SagaExecutorOptions, GroupCommitOptions } from './executor/executor.types';
export { StartSagaRequest, StartSagaResult, SagaInputError, IdempotencyConflictError } from './executor/start';
export { SAGA_WORK_CHANNEL } from './executor/wakeups';
export { DomainCommandDispatcher, DomainCommandEnvelope, AGGREGATES, AggregateName } from './domain-commands/domain-commands';
export { DomainCommandExecutor } from './domain-commands/domain-command-executor';
export { pendingWorkDepth } from './executor/postgres/saga-work';
export { TaskHandler, TaskHandlerContext, TaskHandlerRegistry, PermanentTaskError } from './tasks/task-handler';
export { registerBuiltinHandlers } from './tasks/builtin-handlers';
export { AgentProvisioningSaga, agentIdOf, initialTaskIdOf } from './definitions/agent-provisioning.saga';
export { TaskWorkflowSaga, workflowTaskIdOf } from './definitions/task-workflow.saga';
