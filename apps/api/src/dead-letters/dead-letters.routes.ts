import { Type } from '@nestjs/common';
import { DeadLettersController } from './dead-letters.controller';

export const DEAD_LETTER_CONTROLLERS: Type<unknown>[] = [DeadLettersController];
