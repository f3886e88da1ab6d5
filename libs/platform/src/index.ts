export * from './platform.config';
export { CoreModule } from './core.module';
export { WorkerModule, PlatformProjections } from './worker.module';
export { PlatformMetrics } from './metrics';
export { LiveUpdates } from './live-updates';
export { CommandBusDispatcher, ExecuteDomainCommand } from './domain-commands.cqrs';
