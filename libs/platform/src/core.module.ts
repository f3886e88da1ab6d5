import { BeforeApplicationShutdown, DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Pool } from 'pg';
import { createPool } from '@app/database';
import { AggregateRepository, EVENT_STORE, EventStore, PostgresEventStore } from '@app/event-store';
import { MESSAGE_BUS, MessageBus, createMessageBus } from '@app/messaging';
import { AGENT_WORK, AgentFleetTables, AgentTaskQueue, AgentWorkService, TaskWaiters } from '@app/agents';
import {
  AgentDecommissioningSaga,
  AgentProvisioningSaga,
  DomainCommandExecutor,
  httpCircuitStates,
  isAgentStep,
  registerBuiltinHandlers,
  SagaExecutor,
  SagaState,
  TaskHandlerRegistry,
  TaskWorkflowSaga,
} from '@app/sagas';
import { CommandBusDispatcher, ExecuteDomainCommandHandler } from './domain-commands.cqrs';
import { LiveUpdates } from './live-updates';
import { registerDeploymentHandlers } from './task-handlers-module';
import { AgentQueueWakeups } from './agents.lifecycle';
import { PlatformMetrics } from './metrics';
import { agentSettings, DEFAULT_DB_TIMEOUTS, DOMAIN_COMMANDS, PG_POOL, PLATFORM_CONFIG, PlatformConfig, WORKER_EVENT_STORE, WORKER_PG_POOL, WORKER_SAGA_EXECUTOR } from './platform.config';
import { logSagaOutcomes } from './saga-outcome.log';
import { AGENT_TASKS_WAKE_CHANNEL, EVENTS_WAKE_CHANNEL, WORK_WAKE_CHANNEL, Waker } from './wakeups';
import { loopLogger } from './logging/loop-logger';

@Injectable()
class CoreLifecycle implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private stoppingSince?: number;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(WORKER_PG_POOL) private readonly workerPool: Pool,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly live: LiveUpdates,
  ) {}

  // Before the HTTP server closes and the worker stops; CoreModule is global, so its
  // onApplicationShutdown runs after every other module's: the first and the last line of a shutdown.
  beforeApplicationShutdown(signal?: string): void {
    this.stoppingSince = Date.now();
    this.logger.log({ msg: `shutting down${signal ? ` on ${signal}` : ''}`, signal });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.live.close().catch(() => undefined);
    await this.bus.close().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    if (this.workerPool !== this.pool) await this.workerPool.end().catch(() => undefined);
    const ms = Date.now() - (this.stoppingSince ?? Date.now());
    this.logger.log({ msg: `shut down in ${ms} ms`, ms });
  }
}

// A Nest Logger: it writes through whichever logger the app uses (pino in both processes).
const sagaLogger = new Logger('Sagas');

// A failure marked `final` ends the step (or its compensation); an earlier one is retried.
const failed = (final?: boolean) => (final ? 'failed' : 'failed_attempt');

/** Step and compensation events: the counter each one counts in, and its outcome. */
const OUTCOMES = new Map<string, [counter: 'stepOutcomes' | 'compensationOutcomes', outcome: (final?: boolean) => string]>([
  ['StepSucceeded', ['stepOutcomes', () => 'succeeded']],
  ['StepFailed', ['stepOutcomes', failed]],
  ['StepCompensated', ['compensationOutcomes', () => 'succeeded']],
  ['StepCompensationFailed', ['compensationOutcomes', failed]],
  ['CompensationSkipped', ['compensationOutcomes', () => 'skipped']],
]);

/** Events that move a saga to another status. */
const TRANSITIONS = new Set(['SagaStarted', 'SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed', 'CompensationStarted']);

function recordSagaMetrics(metrics: PlatformMetrics, type: string, events: { type: string; data: unknown }[], state: SagaState): void {
  for (const e of events) {
    const counted = OUTCOMES.get(e.type);
    if (counted) {
      const [counter, outcome] = counted;
      metrics[counter].inc({ saga_type: type, outcome: outcome((e.data as { final?: boolean }).final) });
    } else if (TRANSITIONS.has(e.type)) {
      metrics.sagaTransitions.inc({ saga_type: type, status: state.status });
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
        { provide: PG_POOL, useFactory: () => createPool(config.databaseUrl, { max: config.poolSize, embedded: config.embedded, ...apiLimits(config) }) },
        {
          // The worker's own pool, with the longer statement limit its transactions need; a process
          // without a worker (api only) has none.
          provide: WORKER_PG_POOL,
          inject: [PG_POOL],
          useFactory: (apiPool: Pool) =>
            runsWorker(config) ? createPool(config.databaseUrl, { max: config.poolSize, embedded: config.embedded, ...workerLimits(config) }) : apiPool,
        },
        { provide: Waker, inject: [MESSAGE_BUS], useFactory: (bus: MessageBus) => new Waker(bus) },
        { provide: EVENT_STORE, inject: [PG_POOL, PlatformMetrics, Waker], useFactory: eventStoreFactory },
        {
          provide: WORKER_EVENT_STORE,
          inject: [WORKER_PG_POOL, PG_POOL, EVENT_STORE, PlatformMetrics, Waker],
          useFactory: (workerPool: Pool, apiPool: Pool, apiStore: EventStore, metrics: PlatformMetrics, waker: Waker) =>
            workerPool === apiPool ? apiStore : eventStoreFactory(workerPool, metrics, waker),
        },
        { provide: AggregateRepository, inject: [EVENT_STORE], useFactory: (store: EventStore) => new AggregateRepository(store) },
        { provide: DomainCommandExecutor, inject: [AggregateRepository], useFactory: (repo: AggregateRepository) => new DomainCommandExecutor(repo) },
        ExecuteDomainCommandHandler,
        CommandBusDispatcher,
        { provide: DOMAIN_COMMANDS, useExisting: CommandBusDispatcher },
        {
          // The built-ins, and the deployment's own handlers from TASK_HANDLERS_MODULE; the http
          // handler's circuit breakers show in /metrics.
          provide: TaskHandlerRegistry,
          inject: [PlatformMetrics],
          useFactory: (metrics: PlatformMetrics) => {
            const registry = registerBuiltinHandlers(new TaskHandlerRegistry());
            metrics.httpCircuitSource = () => httpCircuitStates(registry);
            return registerDeploymentHandlers(registry, config.taskHandlersModule);
          },
        },
        {
          provide: MESSAGE_BUS,
          useFactory: () => {
            const logger = new Logger('MessageBus');
            return createMessageBus({ redisUrl: config.redisUrl, onError: (err) => logger.warn(err.message) });
          },
        },
        LiveUpdates,
        // Long polls of agents waiting for tasks (woken in-process, by NOTIFY and by Redis).
        { provide: TaskWaiters, useFactory: () => new TaskWaiters() },
        {
          // Starts and operator commands of API requests (the API's strict pool); the worker's loop
          // runs on WORKER_SAGA_EXECUTOR below.
          provide: SagaExecutor,
          inject: [PG_POOL, EVENT_STORE, CommandBusDispatcher, TaskHandlerRegistry, PlatformMetrics, LiveUpdates, Waker, TaskWaiters],
          useFactory: executorFactory,
        },
        {
          // The agent work protocol, on the API's pool and executor (completions are saga transitions).
          provide: AGENT_WORK,
          inject: [PG_POOL, SagaExecutor, CommandBusDispatcher, TaskWaiters, PlatformMetrics],
          useFactory: (pool: Pool, executor: SagaExecutor, commands: CommandBusDispatcher, waiters: TaskWaiters, metrics: PlatformMetrics) =>
            new AgentWorkService(pool, executor, commands, waiters, {
              heartbeatIntervalMs: agentSettings(config).heartbeatIntervalMs,
              onLocked: (rows) => {
                const now = Date.now();
                for (const r of rows) metrics.agentTaskWait.observe({ capability: r.capability ?? 'initial' }, Math.max(0, now - r.enqueued_at.getTime()) / 1000);
              },
            }),
        },
        {
          provide: WORKER_SAGA_EXECUTOR,
          inject: [SagaExecutor, PG_POOL, WORKER_PG_POOL, WORKER_EVENT_STORE, CommandBusDispatcher, TaskHandlerRegistry, PlatformMetrics, LiveUpdates, Waker, TaskWaiters],
          useFactory: (apiExecutor: SagaExecutor, apiPool: Pool, ...deps: Parameters<typeof executorFactory>) =>
            deps[0] === apiPool ? apiExecutor : executorFactory(...deps),
        },
        CoreLifecycle,
        AgentQueueWakeups,
      ],
      exports: [
        PLATFORM_CONFIG,
        PlatformMetrics,
        PG_POOL,
        WORKER_PG_POOL,
        EVENT_STORE,
        WORKER_EVENT_STORE,
        AggregateRepository,
        DomainCommandExecutor,
        CommandBusDispatcher,
        DOMAIN_COMMANDS,
        TaskHandlerRegistry,
        MESSAGE_BUS,
        LiveUpdates,
        SagaExecutor,
        WORKER_SAGA_EXECUTOR,
        TaskWaiters,
        AGENT_WORK,
      ],
    };

    function eventStoreFactory(pool: Pool, metrics: PlatformMetrics, waker: Waker): EventStore {
      return new PostgresEventStore(pool, {
        notify: true,
        onAppended: (_r, n, ms) => {
          metrics.appends.inc(n);
          metrics.appendLatency.observe(ms / 1000);
          waker.signal(EVENTS_WAKE_CHANNEL);
        },
      });
    }

    function executorFactory(
      pool: Pool,
      store: EventStore,
      commands: CommandBusDispatcher,
      handlers: TaskHandlerRegistry,
      metrics: PlatformMetrics,
      live: LiveUpdates,
      waker: Waker,
      waiters: TaskWaiters,
    ): SagaExecutor {
      const definitions = [
        new AgentProvisioningSaga(commands, handlers),
        new TaskWorkflowSaga(commands, handlers),
        new AgentDecommissioningSaga(commands, new AgentFleetTables()),
      ];
      return new SagaExecutor(pool, store, definitions, {
        concurrency: config.worker.concurrency,
        pollIntervalMs: config.worker.pollIntervalMs,
        leaseMs: config.worker.leaseMs,
        listen: !config.embedded,
        log: loopLogger('SagaExecutor'),
        externalWork: new AgentTaskQueue(),
        afterCommit: (events, state) => {
          recordSagaMetrics(metrics, state.sagaType, events, state);
          logSagaOutcomes(sagaLogger, state, events);
          live.publish(events);
          waker.signal(EVENTS_WAKE_CHANNEL);
          if (queuedAgentTasks(events, state)) {
            // Agents long-polling here at once; elsewhere by NOTIFY (PostgreSQL) and Redis.
            waiters.wake(state.tenantId);
            waker.signal(AGENT_TASKS_WAKE_CHANNEL);
          }
        },
        onNewWork: () => waker.signal(WORK_WAKE_CHANNEL),
      });
    }
  }
}

/** Whether a transition queued agent tasks (started attempts of external steps). */
function queuedAgentTasks(events: { type: string; data: unknown }[], state: SagaState): boolean {
  return events.some((e) => e.type === 'StepStarted' && isAgentStep(state.plan.steps.find((p) => p.name === (e.data as { step: string }).step)));
}

function runsWorker(config: PlatformConfig): boolean {
  return config.worker.enabled || config.projections.enabled;
}

function apiLimits(config: PlatformConfig) {
  const t = { ...DEFAULT_DB_TIMEOUTS, ...config.db };
  return { connectTimeoutMs: t.connectTimeoutMs, statementTimeoutMs: t.statementTimeoutMs, idleInTransactionTimeoutMs: t.idleInTransactionTimeoutMs };
}

function workerLimits(config: PlatformConfig) {
  const t = { ...DEFAULT_DB_TIMEOUTS, ...config.db };
  return { connectTimeoutMs: t.connectTimeoutMs, statementTimeoutMs: t.workerStatementTimeoutMs, idleInTransactionTimeoutMs: t.idleInTransactionTimeoutMs };
}
