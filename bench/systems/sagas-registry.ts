import { openDbosSagas } from './dbos';
import { OpenSagaSystem, openOursSagas } from './sagas';

/** Saga systems of W7/W8, by system name (bench/systems/index.ts lists them for --systems). */
export const SAGA_SYSTEMS: Record<string, OpenSagaSystem> = {
  ours: openOursSagas,
  dbos: openDbosSagas,
};
