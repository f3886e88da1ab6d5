import { sagaWorkload } from './w7-sagas';

/** Every fifth saga (20 %) fails at its last step and compensates the four completed ones. */
export const failsAtLastStep = (index: number) => index % 5 === 4;

/** W8: as W7 with the last step failing in 20 % of the sagas (4 compensations each). */
export const w8 = sagaWorkload('W8', 'as W7, last step failing in 20% of sagas (4 compensations each, in reverse)', failsAtLastStep);
