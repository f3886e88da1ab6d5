import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Pool } from 'pg';
import { createPool } from '@app/database';
import { AggregateRepository, EVENT_STORE, EventStore, PostgresEventStore } from '@app/event-store';
import { MESSAGE_BUS, MessageBus, createMessageBus } from '@app/messaging';
import {
  AgentProvisioningSaga,
  DomainCommandExecutor,
  registerBuiltinHandlers,
  SagaExecutor,
  SagaState,
  TaskHandlerRegistry,
  TaskWorkflowSaga,
} from '@app/sagas';
import { CommandBusDispatcher, ExecuteDomainCommandHandler } from './domain-commands.cqrs';
import { LiveUpdates } from './live-updates';
import { PlatformMetrics } from './metrics';
import { DOMAIN_COMMANDS, PG_POOL, PLATFORM_CONFIG, PlatformConfig } from './platform.config';
import { EVENTS_WAKE_CHANNEL, WORK_WAKE_CHANNEL, Waker } from './wakeups';

@Injectable()
class CoreLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly live: LiveUpdates,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.live.close().catch(() => undefined);
    await this.bus.close().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

function recordSagaMetrics(metrics: PlatformMetrics, type: string, events: { type: string; data: unknown }[], state: SagaState): void {
  for (const e of events) {
    const d = e.data as { final?: boolean };
    switch (e.type) {
      case 'StepSucceeded':
        metrics.stepOutcomes.inc({ saga_type: type, outcome: 'succeeded' });
        break;
      case 'StepFailed':
        metrics.stepOutcomes.inc({ saga_type: type, outcome: d.final ? 'failed' : 'failed_attempt' });
        break;
      case 'StepCompensated':
        metrics.compensationOutcomes.inc({ saga_type: type, outcome: 'succeeded' });
        break;
      case 'StepCompensationFailed':
        metrics.compensationOutcomes.inc({ saga_type: type, outcome: d.final ? 'failed' : 'failed_attempt' });
        break;
      case 'CompensationSkipped':
        metrics.compensationOutcomes.inc({ saga_type: type, outcome: 'skipped' });
        break;
      case 'SagaStarted':
      case 'SagaCompleted':
      case 'SagaCompensated':
      case 'SagaCompensationFailed':
      case 'CompensationStarted':
        metrics.sagaTransitions.inc({ saga_type: type, status: state.status });
        break;
    }
  }
}

/**
 * Everything both apps share: the pg pool, the event store, domain command handling on the CQRS
 * CommandBus, the saga executor (its worker loop is started by the worker module only), the
 * message bus (Redis Streams when configured, else in-memory), live updates and metrics.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: PlatformConfig): DynamicModule {
    return {
      module: CoreModule,
      imports: [CqrsModule.forRoot()],
      providers: [
        { provide: PLATFORM_CONFIG, useValue: config },
        PlatformMetrics,
        { provide: PG_POOL, useFactory: () => createPool(config.databaseUrl, { max: config.poolSize, embedded: config.embedded }) },
        { provide: Waker, inject: [MESSAGE_BUS], useFactory: (bus: MessageBus) => new Waker(bus) },
        {
          provide: EVENT_STORE,
          inject: [PG_POOL, PlatformMetrics, Waker],
          useFactory: (pool: Pool, metrics: PlatformMetrics, waker: Waker) =>
            new PostgresEventStore(pool, {
              notify: true,
              onAppended: (_r, n, ms) => {
                metrics.appends.inc(n);
                metrics.appendLatency.observe(ms / 1000);
                waker.signal(EVENTS_WAKE_CHANNEL);
              },
            }),
        },
        { provide: AggregateRepository, inject: [EVENT_STORE], useFactory: (store: EventStore) => new AggregateRepository(store) },
        { provide: DomainCommandExecutor, inject: [AggregateRepository], useFactory: (repo: AggregateRepository) => new DomainCommandExecutor(repo) },
        ExecuteDomainCommandHandler,
        CommandBusDispatcher,
        { provide: DOMAIN_COMMANDS, useExisting: CommandBusDispatcher },
        { provide: TaskHandlerRegistry, useFactory: () => registerBuiltinHandlers(new TaskHandlerRegistry()) },
        {
          provide: MESSAGE_BUS,
          useFactory: () => {
            const logger = new Logger('MessageBus');
            return createMessageBus({ redisUrl: config.redisUrl, onError: (err) => logger.warn(err.message) });
          },
        },
        LiveUpdates,
        {
          provide: SagaExecutor,
          inject: [PG_POOL, EVENT_STORE, CommandBusDispatcher, TaskHandlerRegistry, PlatformMetrics, LiveUpdates, Waker],
          useFactory: (
            pool: Pool,
            store: EventStore,
            commands: CommandBusDispatcher,
            handlers: TaskHandlerRegistry,
            metrics: PlatformMetrics,
            live: LiveUpdates,
            waker: Waker,
          ) =>
            new SagaExecutor(pool, store, [new AgentProvisioningSaga(commands, handlers), new TaskWorkflowSaga(commands, handlers)], {
              concurrency: config.worker.concurrency,
              pollIntervalMs: config.worker.pollIntervalMs,
              leaseMs: config.worker.leaseMs,
              listen: !config.embedded,
              afterCommit: (events, state) => {
                recordSagaMetrics(metrics, state.sagaType, events, state);
                live.publish(events);
                waker.signal(EVENTS_WAKE_CHANNEL);
              },
              onNewWork: () => waker.signal(WORK_WAKE_CHANNEL),
            }),
        },
        CoreLifecycle,
      ],
      exports: [
        PLATFORM_CONFIG,
        PlatformMetrics,
        PG_POOL,
        EVENT_STORE,
        AggregateRepository,
        DomainCommandExecutor,
        CommandBusDispatcher,
        DOMAIN_COMMANDS,
        TaskHandlerRegistry,
        MESSAGE_BUS,
        LiveUpdates,
        SagaExecutor,
      ],
    };
  }
}
