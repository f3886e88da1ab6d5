import { E2eContext, startE2eApp } from './e2e-app';

/** The API without the worker (no executor, no projections: nothing writes events but the requests). */
export const startApiOnly = (): Promise<E2eContext> => startE2eApp({ worker: false });
