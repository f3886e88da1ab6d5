import { Body, Controller, Delete, Get, HttpCode, Param, PipeTransform, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { SCHEDULE_ID_PATTERN } from '@app/domain';
import { Principal } from '../auth/auth.types';
import { actorOf, ActingTenant, Caller, CorrelationId, TenantScope } from '../auth/principal.decorator';
import { ListRoute } from '../http/list-route.decorator';
import { badRequest } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';
import { CreateScheduleDto, ListSchedulesQueryDto, ScheduleDto, SchedulePageDto } from './schedules.dto';
import { SchedulesService } from './schedules.service';

class ScheduleIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value !== 'string' || !SCHEDULE_ID_PATTERN.test(value)) {
      throw badRequest(`id must match ${SCHEDULE_ID_PATTERN.source}`, [{ field: 'id', message: `must match ${SCHEDULE_ID_PATTERN.source}` }]);
    }
    return value;
  }
}

/** The `id` path parameter of a schedule (400 when it cannot be one). */
const ScheduleIdParam = () => Param('id', new ScheduleIdPipe());

const NOT_FOUND: [404, string] = [404, "unknown schedule, or another tenant's"];
const BAD_ID: [400, string] = [400, `id does not match ${SCHEDULE_ID_PATTERN.source}`];
const ID_PARAM = { name: 'id', description: 'the schedule id (a slug or a UUID)', schema: { type: 'string', pattern: SCHEDULE_ID_PATTERN.source } };

/**
 * Schedules: cron-timed starts of a saga. Each fire starts one saga with the idempotency key
 * `schedule:{id}:{fireTime}`, however many workers run. Tenant-scoped (the admin key names the
 * tenant with X-Tenant-Id; it lists every tenant's).
 */
@ApiTags('schedules')
@ApiBearerAuth()
@Controller('v1/schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a schedule',
    description:
      'A five-field cron in an IANA time zone that starts a saga of sagaType with body at each fire (the body is validated now, as its start route would). A fire missed while no worker ran starts once when one is back.',
  })
  @ApiCreatedResponse({ type: ScheduleDto, description: 'the schedule, with its next run' })
  @ApiProblems([400, 'invalid cron, time zone, id or start body'], [409, 'a schedule with this id exists'])
  createSchedule(@Body() body: CreateScheduleDto, @ActingTenant() tenantId: string, @Caller() caller: Principal, @CorrelationId() correlationId: string): Promise<ScheduleDto> {
    return this.schedules.create(tenantId, body, { actor: actorOf(caller), correlationId });
  }

  @ListRoute('List schedules', SchedulePageDto, "The tenant's schedules (the admin key: every tenant's) from the read model, newest first, with their next run and recent fires; keyset-paged.")
  listSchedules(@Query() query: ListSchedulesQueryDto, @TenantScope() tenantId: string | undefined): Promise<SchedulePageDto> {
    return this.schedules.list(query, tenantId);
  }

  @Get(':id')
  @ApiParam(ID_PARAM)
  @ApiOperation({ summary: 'Get a schedule', description: 'One schedule from its own stream (strongly consistent): next run and recent fires (started, skipped or failed).' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiProblems(BAD_ID, NOT_FOUND)
  getSchedule(@ScheduleIdParam() id: string, @ActingTenant() tenantId: string): Promise<ScheduleDto> {
    return this.schedules.get(tenantId, id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiParam(ID_PARAM)
  @ApiOperation({ summary: 'Pause a schedule', description: 'No fire until it is resumed (pausing a paused schedule changes nothing).' })
  @ApiOkResponse({ type: ScheduleDto, description: 'the paused schedule' })
  @ApiProblems(BAD_ID, NOT_FOUND)
  pauseSchedule(@ScheduleIdParam() id: string, @ActingTenant() tenantId: string, @Caller() caller: Principal, @CorrelationId() correlationId: string): Promise<ScheduleDto> {
    return this.schedules.pause(tenantId, id, { actor: actorOf(caller), correlationId });
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiParam(ID_PARAM)
  @ApiOperation({ summary: 'Resume a schedule', description: 'Fires again from the next cron time on; the times passed while paused are not made up.' })
  @ApiOkResponse({ type: ScheduleDto, description: 'the resumed schedule' })
  @ApiProblems(BAD_ID, NOT_FOUND)
  resumeSchedule(@ScheduleIdParam() id: string, @ActingTenant() tenantId: string, @Caller() caller: Principal, @CorrelationId() correlationId: string): Promise<ScheduleDto> {
    return this.schedules.resume(tenantId, id, { actor: actorOf(caller), correlationId });
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiParam(ID_PARAM)
  @ApiOperation({ summary: 'Delete a schedule', description: 'It fires no more; sagas it started run on.' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiProblems(BAD_ID, NOT_FOUND)
  async deleteSchedule(@ScheduleIdParam() id: string, @ActingTenant() tenantId: string, @Caller() caller: Principal, @CorrelationId() correlationId: string): Promise<void> {
    await this.schedules.delete(tenantId, id, { actor: actorOf(caller), correlationId });
  }
}
