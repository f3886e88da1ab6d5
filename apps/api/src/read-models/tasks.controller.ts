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

  @ListRoute('Tasks of the tenant (admin: every tenant), newest first', TaskPageDto)
  list(@Query() q: ListTasksQueryDto, @TenantScope() tenantId?: string): Promise<TaskPageDto> {
    return listTasks(this.pool, { ...q, tenantId });
  }

  @ItemRoute('taskId', 'One task', TaskDto, 'unknown task, or another tenant’s')
  get(@UuidParam('taskId') taskId: string, @TenantScope() tenantId?: string): Promise<TaskDto> {
    return getTask(this.pool, taskId, tenantId);
  }
}
