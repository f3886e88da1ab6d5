import { Provider, Type } from '@nestjs/common';
import { StreamsController } from './streams.controller';
import { StreamsService } from './streams.service';

export const STREAM_CONTROLLERS: Type<unknown>[] = [StreamsController];
export const STREAM_PROVIDERS: Provider[] = [StreamsService];
