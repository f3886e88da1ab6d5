import { Workload } from '../harness/types';
import { SAGA_SYSTEMS } from '../systems/sagas-registry';
import { SAGA_FIG, runSagaWorkload } from './w7-sagas';

/** Every fifth saga (20 %) fails at its last step and compensates the four completed ones. */
export const failsAtLastStep = (index: number) => index % 5 === 4;

/** W8: as W7 with the last step failing in 20 % of the sagas (4 compensations each). */
export const w8: Workload = {
  id: 'W8',
  title: 'as W7, last step failing in 20% of sagas (4 compensations each, in reverse)',
  systems: Object.keys(SAGA_SYSTEMS),
  figures: [SAGA_FIG.sagasPerSec, SAGA_FIG.p50Ms, SAGA_FIG.p99Ms],
  targets: [{ figure: 'sagasPerSec', kind: 'ratio', peer: 'dbos', op: '>=', value: 2 }],
  run: (ctx) => runSagaWorkload(ctx, failsAtLastStep),
};
