import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { SagaExecutor } from '@app/sagas';
import { Scheduler } from '@app/schedules';
import { CommandBusDispatcher } from './domain-commands.cqrs';
import { loopLogger } from './logging/loop-logger';
import { PLATFORM_CONFIG, PlatformConfig, WORKER_PG_POOL, WORKER_SAGA_EXECUTOR } from './platform.config';

/**
 * The worker's scheduler: every worker runs one, one of them leads and fires the schedules (it
 * reads what is due from the `schedules` read model and starts sagas on the worker's executor).
 */
@Injectable()
export class SchedulerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly scheduler?: Scheduler;

  constructor(
    @Inject(WORKER_PG_POOL) pool: Pool,
    @Inject(WORKER_SAGA_EXECUTOR) executor: SagaExecutor,
    @Inject(PLATFORM_CONFIG) config: PlatformConfig,
    commands: CommandBusDispatcher,
  ) {
    if (!config.worker.enabled) return;
    this.scheduler = new Scheduler(pool, commands, executor, { log: loopLogger('Scheduler') });
  }

  onApplicationBootstrap(): void {
    this.scheduler?.start();
  }

  // Before the worker's executor stops: no saga is started by a scheduler that is going away, and
  // the leadership passes to another worker at once.
  async beforeApplicationShutdown(): Promise<void> {
    await this.scheduler?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.scheduler?.stop();
  }
}
