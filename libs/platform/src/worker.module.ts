import { Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { EVENT_STORE, EventStore } from '@app/event-store';
import { ProjectionRunner, platformProjections } from '@app/projections';
import { SagaExecutor } from '@app/sagas';
import { PG_POOL, PLATFORM_CONFIG, PlatformConfig } from './platform.config';

/** The platform's read models, run by the worker. */
@Injectable()
export class PlatformProjections {
  readonly runner: ProjectionRunner;

  constructor(
    @Inject(PG_POOL) pool: Pool,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(PLATFORM_CONFIG) config: PlatformConfig,
  ) {
    this.runner = new ProjectionRunner(pool, store, platformProjections(), {
      batchSize: config.projections.batchSize,
      listen: !config.embedded,
      pollIntervalMs: 100,
    });
  }
}

/**
 * The worker: saga executor loop and projection runner. Several workers can run side by side
 * against one database (leases and advisory-lock leadership keep them out of each other's way).
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly executor: SagaExecutor,
    private readonly projections: PlatformProjections,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.projections.enabled) await this.projections.runner.start();
    if (this.config.worker.enabled) await this.executor.startWorker();
  }

  async onApplicationShutdown(): Promise<void> {
    // Finish in-flight effects and give the leases back, so another worker takes over at once.
    await this.executor.stopWorker();
    await this.projections.runner.stop();
  }
}

@Module({
  providers: [PlatformProjections, WorkerLifecycle],
  exports: [PlatformProjections],
})
export class WorkerModule {}
