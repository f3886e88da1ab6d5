import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { AgentMonitor, issueRuntimeKey, LocalAgentRuntime, loadRuntimeConfig, QueueListener, TaskWaiters } from '@app/agents';
import { MESSAGE_BUS, MessageBus, Subscription } from '@app/messaging';
import { CommandBusDispatcher } from './domain-commands.cqrs';
import { loopLogger } from './logging/loop-logger';
import { PlatformMetrics } from './metrics';
import { agentSettings, PG_POOL, PLATFORM_CONFIG, PlatformConfig, WORKER_PG_POOL, WORKER_SAGA_EXECUTOR } from './platform.config';
import { SagaExecutor } from '@app/sagas';
import { AGENT_TASKS_WAKE_CHANNEL } from './wakeups';

/**
 * Wakes this process's long polls when another process queued agent tasks: Redis (when
 * configured) and LISTEN/NOTIFY (a server PostgreSQL). Tasks queued here wake them directly
 * (the executor's afterCommit hook); the waiters' own re-check covers any lost wake-up.
 */
@Injectable()
export class AgentQueueWakeups implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private subscription?: Subscription;
  private listener?: QueueListener;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
    private readonly waiters: TaskWaiters,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await this.bus.onNotify(AGENT_TASKS_WAKE_CHANNEL, () => this.waiters.wake()).catch(() => undefined);
    if (!this.config.embedded) {
      this.listener = new QueueListener(this.pool, (tenantId) => this.waiters.wake(tenantId));
      await this.listener.ensure();
      // A lost LISTEN connection is set up again (the database may have been away).
      this.timer = setInterval(() => void this.listener?.ensure(), 5000);
      this.timer.unref();
    }
  }

  // Before the HTTP server closes: long polls answer now instead of holding it open.
  beforeApplicationShutdown(): void {
    this.waiters.close();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.close().catch(() => undefined);
    await this.listener?.close();
  }
}

/**
 * The worker's agent monitor (health, lock and TTL expiry, scaling) and, with `AGENT_RUNTIME=local`
 * (the default), the local runtime that runs instances of the agent types the deployment maps to a
 * command (`AGENT_RUNTIME_CONFIG`; the built-in `example` type works with no configuration).
 */
@Injectable()
export class AgentMonitorLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly monitor?: AgentMonitor;
  private readonly logger = new Logger('Agents');

  constructor(
    @Inject(WORKER_PG_POOL) pool: Pool,
    @Inject(WORKER_SAGA_EXECUTOR) executor: SagaExecutor,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
    commands: CommandBusDispatcher,
    waiters: TaskWaiters,
    metrics: PlatformMetrics,
    @Inject(MESSAGE_BUS) bus: MessageBus,
  ) {
    if (!config.worker.enabled) return;
    const settings = agentSettings(config);
    const runtime =
      settings.runtime === 'local'
        ? new LocalAgentRuntime({
            // Read now: a bad mapping file stops the process at start with one line naming it.
            config: loadRuntimeConfig(settings.runtimeConfigPath),
            apiUrl: settings.apiUrl,
            issueKey: (target) => issueRuntimeKey(pool, target),
            log: (line, level) => this.logger[level === 'info' ? 'log' : level](line),
          })
        : undefined;
    this.monitor = new AgentMonitor(pool, executor, commands, {
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      runtime,
      wake: (tenantId) => {
        waiters.wake(tenantId);
        bus.notify(AGENT_TASKS_WAKE_CHANNEL, '').catch(() => undefined);
      },
      log: loopLogger('AgentMonitor'),
      onScaled: (agents) => {
        metrics.agentDesiredInstances.reset();
        for (const a of agents) metrics.agentDesiredInstances.set({ agent: a.agentId, tenant: a.tenantId }, a.desired);
      },
      onScaleChange: (from, to) => metrics.agentScalings.inc({ direction: to > from ? 'up' : 'down' }),
    });
  }

  onApplicationBootstrap(): void {
    this.monitor?.start();
  }

  // Before the HTTP server closes: local instances drain (finishing their tasks through the API)
  // and exit while it still answers.
  async beforeApplicationShutdown(): Promise<void> {
    await this.monitor?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.monitor?.stop();
  }
}
