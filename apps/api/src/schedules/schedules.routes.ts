import { Provider, Type } from '@nestjs/common';
import { SchedulesController } from './schedules.controller';
import { SchedulesService } from './schedules.service';

/** The schedule routes (registered in ../routes.ts). */
export const SCHEDULE_CONTROLLERS: Type<unknown>[] = [SchedulesController];
export const SCHEDULE_PROVIDERS: Provider[] = [SchedulesService];
