import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Pool } from 'pg';
import { EVENT_STORE, EventStore } from '@app/event-store';
import { PG_POOL } from '@app/platform';
import { ensureCheckpoint, listProjectionStatus, platformProjections, ProjectionStatusView, requestRebuild } from '@app/projections';
import { MinRole } from '../auth/auth.types';
import { notFound } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';
import { ProjectionStatusDto } from './projections.dto';

const toDto = (v: ProjectionStatusView): ProjectionStatusDto => ({
  name: v.name,
  position: v.position,
  lag: v.lag,
  status: v.status,
  ...(v.lastError ? { lastError: v.lastError } : {}),
});

/** Status of the read models and their rebuilds (the worker runs them; this only reads and asks). */
@ApiTags('projections')
@ApiBearerAuth()
@ApiProblems(403)
@MinRole('operator')
@Controller('v1/projections')
export class ProjectionsController {
  // Inline projections are applied in the append's transaction: no checkpoint, lag or rebuild.
  private readonly names = platformProjections()
    .filter((p) => p.mode !== 'inline')
    .map((p) => p.name);

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List projections', description: 'Every asynchronous read model with its position, lag and status (CATCHING_UP, LIVE, REBUILDING, FAILED).' })
  @ApiOkResponse({ type: [ProjectionStatusDto] })
  async listProjections(): Promise<ProjectionStatusDto[]> {
    const known = new Map((await listProjectionStatus(this.store, this.names)).map((v) => [v.name, v]));
    const missing = this.names.filter((n) => !known.has(n));
    // No worker has started a projection yet: it has applied nothing, everything is lag.
    const head = missing.length ? await this.store.countEvents() : 0;
    return this.names.map((name) => (known.has(name) ? toDto(known.get(name)!) : { name, position: 0, lag: head, status: 'CATCHING_UP' }));
  }

  @Post(':name/rebuild')
  @MinRole('admin')
  @HttpCode(202)
  @ApiOperation({ summary: 'Rebuild a projection', description: 'Rebuilds a read model from zero while the API keeps answering; progress shows in GET /v1/projections. Admin only.' })
  @ApiAcceptedResponse({ type: ProjectionStatusDto })
  @ApiProblems([403, 'role below admin'], [404, 'no projection of that name'])
  async rebuildProjection(@Param('name') name: string): Promise<ProjectionStatusDto> {
    if (!this.names.includes(name)) throw notFound(`projection ${name} not found`);
    await ensureCheckpoint(this.pool, name);
    await requestRebuild(this.pool, name);
    const [status] = await listProjectionStatus(this.store, [name]);
    return toDto(status);
  }
}
