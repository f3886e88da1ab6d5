/**
 * Where the scheduler reads the time. Injected so specs can drive fires minute by minute (and across
 * a DST change) without waiting; the worker uses the system clock.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
