import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { MinRole, Principal } from '../auth/auth.types';
import { ActingTenant, actorOf, Caller, CorrelationId, TenantScope } from '../auth/principal.decorator';
import { ApiProblems } from '../http/problem.docs';
import {
  AppendEventsDto,
  AppendResultDto,
  GlobalLogPageDto,
  ReadAllQueryDto,
  ReadStreamQueryDto,
  StreamEventsDto,
  StreamStateDto,
  StreamStateQueryDto,
} from './streams.dto';
import { StreamsService } from './streams.service';
import { STREAM_ID_PATTERN, StreamIdParam } from './streams.validators';

const STREAM_ID_DOC = { name: 'streamId', description: '`<category>-<id>`', schema: { type: 'string', pattern: STREAM_ID_PATTERN.source } };

@ApiTags('event store')
@ApiBearerAuth()
@ApiProblems([400, 'path, query or body fails validation (with errors)'])
@Controller('v1')
export class StreamsController {
  constructor(private readonly streams: StreamsService) {}

  @Post('streams/:streamId/events')
  @MinRole('operator')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Append events to a stream',
    description: 'Appends events to a stream of the caller’s tenant atomically, checked against an expected version. Platform categories are refused.',
  })
  @ApiParam(STREAM_ID_DOC)
  @ApiHeader({ name: 'X-Tenant-Id', required: false, description: 'the tenant the admin key appends for' })
  @ApiCreatedResponse({ type: AppendResultDto })
  @ApiProblems(
    [403, 'role too low, or a platform category (saga, agent, task, quota, service, tenant)'],
    [404, 'the stream belongs to another tenant'],
    [409, 'expected-version conflict (with expectedVersion and actualVersion), or an event id reused'],
  )
  appendToStream(
    @StreamIdParam() streamId: string,
    @Body() body: AppendEventsDto,
    @ActingTenant() tenantId: string,
    @Caller() caller: Principal,
    @CorrelationId() correlationId: string,
  ): Promise<AppendResultDto> {
    return this.streams.append(streamId, body.expectedVersion, body.events, { tenantId, correlationId, actor: actorOf(caller) });
  }

  @Get('streams/:streamId/events')
  @MinRole('operator')
  @ApiOperation({ summary: 'Read a stream', description: 'Events of one stream, forward or backward from a version.' })
  @ApiParam(STREAM_ID_DOC)
  @ApiOkResponse({ type: StreamEventsDto })
  @ApiProblems(403, [404, 'the stream has no events (or is another tenant’s)'])
  readStream(@StreamIdParam() streamId: string, @Query() query: ReadStreamQueryDto, @TenantScope() tenantId?: string): Promise<StreamEventsDto> {
    return this.streams.read(streamId, {
      fromVersion: query.fromVersion,
      limit: query.limit,
      direction: query.direction,
      tenantId,
    });
  }

  @Get('streams/:streamId/state')
  @ApiOperation({ summary: 'Get the state of a stream', description: 'State of a platform stream replayed from its events (from a snapshot where one fits), optionally as of a version.' })
  @ApiParam(STREAM_ID_DOC)
  @ApiOkResponse({ type: StreamStateDto })
  @ApiProblems([404, 'not a platform category, no such stream, or another tenant’s'])
  getStreamState(@StreamIdParam() streamId: string, @Query() query: StreamStateQueryDto, @TenantScope() tenantId?: string): Promise<StreamStateDto> {
    return this.streams.state(streamId, query.atVersion, tenantId);
  }

  @Get('events')
  @MinRole('operator')
  @ApiOperation({ summary: 'Read the global log', description: 'Events of every stream in position order, gap-safe, scoped to the tenant (admin: all), optionally of one category.' })
  @ApiOkResponse({ type: GlobalLogPageDto })
  @ApiProblems(403)
  readAllEvents(@Query() query: ReadAllQueryDto, @TenantScope() tenantId?: string): Promise<GlobalLogPageDto> {
    return this.streams.readAll({ after: query.after ?? 0, limit: query.limit ?? 100, category: query.category, tenantId });
  }
}
