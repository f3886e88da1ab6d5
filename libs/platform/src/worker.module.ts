import { Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { EventStore } from '@app/event-store';
import { MESSAGE_BUS, MessageBus, Subscription } from '@app/messaging';
import { ProjectionRunner, platformProjections } from '@app/projections';
import { SagaExecutor } from '@app/sagas';
import { integrationRelay } from './integration-relay';
import { AgentMonitorLifecycle } from './agents.lifecycle';
import { SchedulerLifecycle } from './schedules.lifecycle';
import { loopLogger } from './logging/loop-logger';
import { EVENTS_WAKE_CHANNEL, WORK_WAKE_CHANNEL } from './wakeups';
import { PLATFORM_CONFIG, PlatformConfig, WORKER_EVENT_STORE, WORKER_PG_POOL, WORKER_SAGA_EXECUTOR } from './platform.config';

/** The platform's read models, run by the worker. */
@Injectable()
export class PlatformProjections {
  readonly runner: ProjectionRunner;

  constructor(
    @Inject(WORKER_PG_POOL) pool: Pool,
    @Inject(WORKER_EVENT_STORE) store: EventStore,
    @Inject(PLATFORM_CONFIG) config: PlatformConfig,
    @Inject(MESSAGE_BUS) bus: MessageBus,
  ) {
    this.runner = new ProjectionRunner(pool, store, [...platformProjections(), integrationRelay(bus, store)], {
      batchSize: config.projections.batchSize,
      listen: !config.embedded,
      pollIntervalMs: 100,
      log: loopLogger('Projections'),
    });
  }
}

/**
 * The worker: saga executor loop and projection runner. Several workers can run side by side
 * against one database (leases and advisory-lock leadership keep them out of each other's way).
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly subscriptions: Subscription[] = [];
  private readonly logger = new Logger('Worker');

  constructor(
    @Inject(WORKER_SAGA_EXECUTOR) private readonly executor: SagaExecutor,
    private readonly projections: PlatformProjections,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.projections.enabled) await this.projections.runner.start();
    if (this.config.worker.enabled) await this.executor.startWorker();
    // Redis wake-ups from other processes: work and events are seen at once instead of at the next
    // poll. Without Redis (or while it is down), LISTEN/NOTIFY and polling carry on alone.
    const subscribe = async (channel: string, fn: () => void) => {
      const sub = await this.bus.onNotify(channel, fn).catch(() => undefined);
      if (sub) this.subscriptions.push(sub);
    };
    await subscribe(WORK_WAKE_CHANNEL, () => this.executor.wake());
    await subscribe(EVENTS_WAKE_CHANNEL, () => this.projections.runner.wake());
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.close().catch(() => undefined)));
    // Interrupt in-flight effects and give the leases back, so another worker takes over at once.
    this.logger.log('worker stopping: interrupting in-flight steps and releasing leases');
    await this.executor.stopWorker();
    await this.projections.runner.stop();
    this.logger.log('worker stopped');
  }
}

@Module({
  providers: [PlatformProjections, WorkerLifecycle, AgentMonitorLifecycle, SchedulerLifecycle],
  exports: [PlatformProjections],
})
export class WorkerModule {}
