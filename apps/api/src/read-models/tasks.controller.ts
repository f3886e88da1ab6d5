import { Inject, Query } from '@nestjs/common';
import { Pool } from 'pg';
import { PG_POOL } from '@app/platform';
import { TenantScope } from '../auth/principal.decorator';
import { ListRoute } from '../http/list-route.decorator';
import { UuidParam } from '../http/params';
import { ItemRoute, ReadModelController } from './read-models.docs';
import { ListTasksQueryDto, TaskDto, TaskPageDto } from './read-models.dto';
import { getTask, listTasks } from './read-models.queries';

@ReadModelController('v1/tasks')
export class TasksController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @ListRoute('List tasks', TaskPageDto, 'Tasks of the tenant (admin: every tenant), newest first, optionally of one saga or status; keyset-paged.')
  listTasks(@Query() q: ListTasksQueryDto, @TenantScope() tenantId?: string): Promise<TaskPageDto> {
    return listTasks(this.pool, { ...q, tenantId });
  }

  @ItemRoute('taskId', 'Get a task', TaskDto, 'unknown task, or another tenant’s', 'One task from the read model: status, config, output or error, attempts.')
  getTask(@UuidParam('taskId') taskId: string, @TenantScope() tenantId?: string): Promise<TaskDto> {
    return getTask(this.pool, taskId, tenantId);
  }
}
