import { queueDepths } from '@app/agents';
import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { Response } from 'express';
import { Pool } from 'pg';
import { EVENT_STORE, EventStore } from '@app/event-store';
import { MESSAGE_BUS, MessageBus } from '@app/messaging';
import { listProjectionStatus } from '@app/projections';
import { pendingWorkDepth } from '@app/sagas';
import { PG_POOL, PLATFORM_CONFIG, PlatformConfig, PlatformMetrics } from '@app/platform';
import { Public } from '../auth/auth.types';
import { problem } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';

/** The terminus result of a passed check: each dependency `up`. */
const READY_SCHEMA = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok'] },
    info: { type: 'object', additionalProperties: { type: 'object', properties: { status: { type: 'string' } } } },
    error: { type: 'object', additionalProperties: true },
    details: { type: 'object', additionalProperties: { type: 'object', properties: { status: { type: 'string' } } } },
  },
  required: ['status'],
  example: { status: 'ok', info: { database: { status: 'up' } }, error: {}, details: { database: { status: 'up' } } },
};

@ApiTags('operations')
@Public()
@Controller()
export class OpsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
    private readonly metrics: PlatformMetrics,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness probe', description: 'Answers 200 while the process runs; checks no dependency.' })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'], example: { status: 'ok' } } })
  getHealth() {
    return { status: 'ok' };
  }

  @Get('ready')
  // Documented here: terminus would document its own 503 body, not the problem+json sent.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({ description: 'PostgreSQL (and Redis, when configured) answer', schema: READY_SCHEMA })
  @ApiProblems([503, 'a dependency failed (problem+json with the checks)'])
  @ApiOperation({ summary: 'Readiness probe', description: 'Answers 200 when PostgreSQL (and Redis, when configured) answer within 2 s; 503 naming the dependency that failed otherwise.' })
  async getReadiness(@Res() res: Response): Promise<void> {
    const checks: HealthIndicatorFunction[] = [
      async () => {
        const db = this.indicator.check('database');
        try {
          await withTimeout(this.pool.query('select 1'), 2000);
          return db.up();
        } catch (err) {
          return db.down({ message: (err as Error).message });
        }
      },
    ];
    if (this.config.redisUrl) {
      checks.push(async () => {
        const redis = this.indicator.check('redis');
        try {
          // epoch() is a real round trip that fails while the broker is unreachable.
          await withTimeout(this.bus.epoch(), 2000);
          return redis.up();
        } catch (err) {
          return redis.down({ message: (err as Error).message });
        }
      });
    }
    try {
      const result = await this.health.check(checks);
      res.status(200).json(result);
    } catch (err) {
      const body = (err as { response?: Record<string, unknown> }).response ?? {};
      const failed = Object.keys((body.error as object) ?? {});
      res
        .status(503)
        .type('application/problem+json')
        .send(JSON.stringify({ ...problem(503, `not ready: ${failed.join(', ') || 'dependency check failed'}`), checks: body }));
    }
  }

  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async scrape(): Promise<string> {
    // Gauges that come from the database are refreshed at scrape time; a database outage must
    // not break the scrape of the process metrics.
    await Promise.all([
      listProjectionStatus(this.store)
        .then((rows) => rows.forEach((p) => this.metrics.projectionLag.set({ projection: p.name }, p.lag)))
        .catch(() => undefined),
      pendingWorkDepth(this.pool)
        .then((d) => {
          this.metrics.pendingWork.set({ state: 'due' }, d.due);
          this.metrics.pendingWork.set({ state: 'total' }, d.total);
        })
        .catch(() => undefined),
      this.pool
        .query<{ type: string; status: string; n: number }>('select type, status, count(*)::int as n from saga_summaries group by type, status')
        .then(({ rows }) => {
          this.metrics.sagasByStatus.reset();
          rows.forEach((r) => this.metrics.sagasByStatus.set({ saga_type: r.type, status: r.status }, r.n));
        })
        .catch(() => undefined),
      queueDepths(this.pool)
        .then((rows) => {
          this.metrics.agentTasks.reset();
          this.metrics.agentQueueAge.reset();
          const now = Date.now();
          const oldest = new Map<string, number>();
          for (const r of rows) {
            for (const state of ['pending', 'delayed', 'locked'] as const) this.metrics.agentTasks.inc({ capability: r.capability, state }, r[state]);
            // Across tenants sharing a capability name: the oldest.
            const age = r.oldest_pending_at ? Math.max(0, (now - r.oldest_pending_at.getTime()) / 1000) : 0;
            oldest.set(r.capability, Math.max(oldest.get(r.capability) ?? 0, age));
          }
          for (const [capability, age] of oldest) this.metrics.agentQueueAge.set({ capability }, age);
        })
        .catch(() => undefined),
      // Dead letters by consumer group (the first page: an alert needs "any", not an exact count).
      withTimeout(this.bus.listDeadLetters({ limit: 1000 }), 2000)
        .then((page) => {
          this.metrics.deadLetters.reset();
          const byGroup = new Map<string, number>();
          for (const d of page.items) byGroup.set(d.group, (byGroup.get(d.group) ?? 0) + 1);
          for (const [group, n] of byGroup) this.metrics.deadLetters.set({ group }, n);
        })
        .catch(() => undefined),
      // The scaling target of every live agent (KEDA / HPA read it from any process's /metrics).
      this.pool
        .query<{ agent_id: string; tenant_id: string; n: number }>(
          `select agent_id, tenant_id, coalesce(desired_instances, 1)::int as n from agents
            where status in ('PROVISIONING', 'ACTIVE') and decommissioning_saga_id is null`,
        )
        .then(({ rows }) => {
          this.metrics.agentDesiredInstances.reset();
          rows.forEach((r) => this.metrics.agentDesiredInstances.set({ agent: r.agent_id, tenant: r.tenant_id }, r.n));
        })
        .catch(() => undefined),
    ]);
    return this.metrics.registry.metrics();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}
