import { Provider, Type } from '@nestjs/common';
import { SagaLiveController } from './saga-live.controller';
import { SagaOperationsController, SagaSignalsController } from './saga-operations.controller';
import { SagaReadModel } from './saga-read-model';
import { SagasController } from './sagas.controller';
import { SagasService } from './sagas.service';
import { StartSagaController } from './start-saga.controller';

/** The saga routes (registered in ../routes.ts). */
export const SAGA_CONTROLLERS: Type<unknown>[] = [StartSagaController, SagasController, SagaLiveController, SagaOperationsController, SagaSignalsController];
export const SAGA_PROVIDERS: Provider[] = [SagasService, SagaReadModel];
