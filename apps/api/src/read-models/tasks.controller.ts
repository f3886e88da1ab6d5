import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { notFound } from '../http/problem';
import { UuidParam } from '../http/params';
import { READ_MODEL_ERRORS } from './read-models.docs';
import { ListTasksQueryDto, TaskDto, TaskPageDto } from './read-models.dto';
import { findRow, listTasks, toTask } from './read-models.queries';

@ApiTags('read models')
@ApiBearerAuth()
@READ_MODEL_ERRORS()
@Controller('v1/tasks')
export class TasksController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get()
  @ApiOperation({ summary: 'Tasks of the tenant (admin: every tenant), newest first' })
  @ApiOkResponse({ type: TaskPageDto })
  list(@Query() q: ListTasksQueryDto, @TenantScope() tenantId?: string): Promise<TaskPageDto> {
    return listTasks(this.pool, { ...q, tenantId });
  }

  @Get(':taskId')
  @ApiOperation({ summary: 'One task' })
  @ApiOkResponse({ type: TaskDto })
  @ApiNotFoundResponse({ description: 'unknown task, or another tenant’s' })
  async get(@UuidParam('taskId') taskId: string, @TenantScope() tenantId?: string): Promise<TaskDto> {
    const row = await findRow(this.pool, 'tasks', 'task_id', taskId, tenantId);
    if (!row) throw notFound(`task ${taskId} not found`);
    return toTask(row);
  }
}
