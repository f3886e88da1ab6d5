export type { Decider, DomainCommand, DomainEvent } from './decider';
export { DomainError, fold } from './decider';
export type { Resources } from './resources';
export { assertValidResources } from './resources';
export { DeciderSpecification, DOMAIN_ERRORS } from './testing/decider-specification';
export type { CodedError, ExpectedErrors } from './testing/decider-specification';

export * from './tenant/tenant.events';
export * from './tenant/tenant.commands';
export * from './tenant/tenant.decider';

export * from './quota/quota.events';
export * from './quota/quota.commands';
export * from './quota/quota.decider';

export * from './agent/agent.events';
export * from './agent/agent.commands';
export * from './agent/agent.decider';

export * from './service/service.events';
export * from './service/service.commands';
export * from './service/service.decider';

export * from './task/task.events';
export * from './task/task.commands';
export * from './task/task.decider';

export * from './workflow-definition/workflow-definition.events';
export * from './workflow-definition/workflow-definition.commands';
export * from './workflow-definition/workflow-definition.decider';

export * from './schedule/schedule.events';
export * from './schedule/schedule.commands';
export * from './schedule/schedule.decider';
export * from './schedule/schedule.cron';
