import { Type } from '@nestjs/common';
import { AgentsController } from './agents.controller';
import { SagaStatsController } from './saga-stats.controller';
import { ServicesController } from './services.controller';
import { TasksController } from './tasks.controller';

export const READ_MODEL_CONTROLLERS: Type<unknown>[] = [AgentsController, TasksController, ServicesController, SagaStatsController];
