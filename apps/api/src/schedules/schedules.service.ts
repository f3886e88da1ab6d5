import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { Pool } from 'pg';
import { Schedule, scheduleAggregateId, ScheduleCommand, ScheduleState, timingProblems, upcomingRunAt } from '@app/domain';
import { EventMetadata } from '@app/event-store';
import { DOMAIN_COMMANDS, PG_POOL } from '@app/platform';
import { DomainCommandDispatcher, SagaExecutor } from '@app/sagas';
import { equals, keysetPage, KeysetSpec, Page, PageQuery } from '../http/keyset-page';
import { badRequest, conflict, notFound } from '../http/problem';
import { validateStartBody } from './schedule-start-body';
import { CreateScheduleDto, ScheduleDto } from './schedules.dto';

const LIST: KeysetSpec = {
  table: 'schedules',
  keys: [
    ['created_at', 'timestamp'],
    ['tenant_id', 'text'],
    ['schedule_id', 'text'],
  ],
  direction: 'desc',
};

/** A schedule as the API shows it, at `now`. */
export function toScheduleDto(s: Schedule, now: Date): ScheduleDto {
  return {
    id: s.scheduleId,
    cron: s.cron,
    timezone: s.timezone,
    sagaType: s.sagaType,
    nextRunAt: upcomingRunAt(s, now) ?? null,
    paused: s.status === 'PAUSED',
    overlap: s.overlap,
    body: s.body,
    recentRuns: s.recentRuns,
    createdAt: s.createdAt,
  };
}

/**
 * Schedules of a tenant: each one from its own stream (strongly consistent: a created schedule is
 * there at once, a deleted one gone), the list from the `schedules` read model.
 */
@Injectable()
export class SchedulesService {
  constructor(
    @Inject(DOMAIN_COMMANDS) private readonly commands: DomainCommandDispatcher,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly executor: SagaExecutor,
  ) {}

  async create(tenantId: string, dto: CreateScheduleDto, metadata: Partial<EventMetadata>): Promise<ScheduleDto> {
    const timezone = dto.timezone ?? 'UTC';
    const problems = timingProblems(dto.cron, timezone);
    if (problems.length) throw badRequest('invalid schedule', problems);
    // Plain JSON, as a start stores its input.
    const body = JSON.parse(JSON.stringify(dto.body)) as Record<string, unknown>;
    await validateStartBody(this.executor, this.commands, tenantId, dto.sagaType, body);
    const scheduleId = dto.id ?? randomUUID();
    const state = await this.decide(tenantId, scheduleId, metadata, {
      type: 'CreateSchedule',
      data: { scheduleId, tenantId, cron: dto.cron, timezone, sagaType: dto.sagaType, body, overlap: dto.overlap ?? 'skip', paused: dto.paused ?? false, at: new Date().toISOString() },
    });
    return toScheduleDto(state, new Date());
  }

  async get(tenantId: string, scheduleId: string): Promise<ScheduleDto> {
    const { state } = (await this.commands.load('schedule', scheduleAggregateId(tenantId, scheduleId))) as { state: ScheduleState };
    if (state.status === 'NONE' || state.status === 'DELETED' || state.tenantId !== tenantId) throw notFound(`schedule ${scheduleId} not found`);
    return toScheduleDto(state, new Date());
  }

  async pause(tenantId: string, scheduleId: string, metadata: Partial<EventMetadata>): Promise<ScheduleDto> {
    return toScheduleDto(await this.decide(tenantId, scheduleId, metadata, { type: 'PauseSchedule', data: { at: new Date().toISOString() } }), new Date());
  }

  async resume(tenantId: string, scheduleId: string, metadata: Partial<EventMetadata>): Promise<ScheduleDto> {
    return toScheduleDto(await this.decide(tenantId, scheduleId, metadata, { type: 'ResumeSchedule', data: { at: new Date().toISOString() } }), new Date());
  }

  async delete(tenantId: string, scheduleId: string, metadata: Partial<EventMetadata>): Promise<void> {
    await this.decide(tenantId, scheduleId, metadata, { type: 'DeleteSchedule', data: { at: new Date().toISOString() } });
  }

  /** The tenant's schedules (the admin key: every tenant's), newest first. */
  list(query: PageQuery, tenantId: string | undefined): Promise<Page<ScheduleDto>> {
    const now = new Date();
    return keysetPage<{ state: Schedule }, ScheduleDto>(this.pool, LIST, equals('tenant_id', tenantId), query, (row) => toScheduleDto(row.state, now));
  }

  /** One command on the tenant's schedule; the domain's refusals as the API answers them. */
  private async decide(tenantId: string, scheduleId: string, metadata: Partial<EventMetadata>, command: ScheduleCommand): Promise<Schedule> {
    try {
      const result = await this.commands.dispatch({ aggregate: 'schedule', id: scheduleAggregateId(tenantId, scheduleId), tenantId, metadata, command });
      return result.state as Schedule;
    } catch (err) {
      const refusal = err as { name?: string; code?: string; message: string; details?: Record<string, unknown> };
      if (refusal?.name !== 'DomainError') throw err;
      if (refusal.code === 'SCHEDULE_NOT_FOUND') throw notFound(`schedule ${scheduleId} not found`);
      if (refusal.code === 'SCHEDULE_EXISTS') throw conflict(`schedule ${scheduleId} already exists`);
      if (refusal.code === 'INVALID_SCHEDULE') throw badRequest(refusal.message, refusal.details?.problems as { field: string; message: string }[] | undefined);
      throw err;
    }
  }
}
