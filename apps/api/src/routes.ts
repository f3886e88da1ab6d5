import { Provider, Type } from '@nestjs/common';
import { SAGA_CONTROLLERS, SAGA_PROVIDERS } from './sagas/sagas.routes';
import { STREAM_CONTROLLERS, STREAM_PROVIDERS } from './streams/streams.routes';
import { PROJECTION_CONTROLLERS } from './projections/projections.routes';
import { READ_MODEL_CONTROLLERS } from './read-models/read-models.routes';
import { DEAD_LETTER_CONTROLLERS } from './dead-letters/dead-letters.routes';
import { AGENT_CONTROLLERS } from './agents/agents.routes';
import { WORKFLOW_DEFINITION_CONTROLLERS } from './workflow-definitions/workflow-definitions.routes';
import { SCHEDULE_CONTROLLERS, SCHEDULE_PROVIDERS } from './schedules/schedules.routes';

/** Controllers and providers of the v1 routes beyond tenants and operations. */
export const API_CONTROLLERS: Type<unknown>[] = [...SAGA_CONTROLLERS, ...STREAM_CONTROLLERS, ...PROJECTION_CONTROLLERS, ...READ_MODEL_CONTROLLERS, ...DEAD_LETTER_CONTROLLERS, ...AGENT_CONTROLLERS, ...WORKFLOW_DEFINITION_CONTROLLERS, ...SCHEDULE_CONTROLLERS];
export const API_PROVIDERS: Provider[] = [...SAGA_PROVIDERS, ...STREAM_PROVIDERS, ...SCHEDULE_PROVIDERS];
