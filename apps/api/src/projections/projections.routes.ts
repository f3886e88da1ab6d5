import { Type } from '@nestjs/common';
import { ProjectionsController } from './projections.controller';

export const PROJECTION_CONTROLLERS: Type<unknown>[] = [ProjectionsController];
