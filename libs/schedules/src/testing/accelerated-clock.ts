import { Clock } from '../clock';

/**
 * A clock that runs `factor` times faster than real time from `start` (virtual) at `realStart`
 * (real, ms since the epoch). Every process given the same three numbers reads the same time, so a
 * crash test with several scheduler processes can live through minutes of cron times in seconds.
 */
export function acceleratedClock(start: number, realStart: number, factor: number): Clock {
  return { now: () => new Date(start + (Date.now() - realStart) * factor) };
}
