export * from './event-store.types';
export * from './event-store.errors';
export { EventStore, TransactionalOptions, AppendToStreamsOptions } from './event-store.port';
export { EVENT_STORE } from './event-store.tokens';
export { PostgresEventStore, PostgresEventStoreOptions } from './postgres/postgres-event-store';
export { SubscribeOptions, Subscription, EVENTS_CHANNEL } from './postgres/subscribe';
export { Queryable, QueryConfig, QueryRows } from './postgres/queryable';
export { MAX_EVENTS_PER_APPEND } from './postgres/append-to-stream';
export { AlongsideWrites } from './postgres/append-to-streams';
export { EVENT_STORE_SCHEMA } from './postgres/schema';
export { deleteSnapshots } from './postgres/snapshots';
export { UpcasterRegistry } from './upcasters';
export { deterministicUuid, eventIdFor } from './deterministic-id';
export {
  AggregateRepository,
  AggregateType,
  AggregateDecider,
  LoadedAggregate,
  HandleOptions,
  HandleResult,
  PrepareRequest,
  PreparedGroup,
  prepareAll,
} from './aggregate-repository';
export { WakeableSleep, failureBackoffMs } from './wakeable-sleep';
export { GroupCommitQueue, GroupCommitLimits, Pending, isBrokenConnection } from './group-commit-queue';
