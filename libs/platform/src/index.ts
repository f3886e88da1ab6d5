export * from './platform.config';
export { CoreModule } from './core.module';
export { WorkerModule, PlatformProjections } from './worker.module';
export { PlatformMetrics } from './metrics';
export { LiveUpdates } from './live-updates';
export { CommandBusDispatcher, ExecuteDomainCommand } from './domain-commands.cqrs';
export { integrationRelay, INTEGRATION_TOPIC, PUBLIC_SAGA_EVENTS, RELAY_NAME } from './integration-relay';
export { Waker, WORK_WAKE_CHANNEL, EVENTS_WAKE_CHANNEL } from './wakeups';
