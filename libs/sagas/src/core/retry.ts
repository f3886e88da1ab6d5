import { RetryPolicy } from './saga.types';

/**
 * Delay before the attempt after `attempt` (1-based): exponential, capped, then scaled into
 * [50 %, 100 %] by `jitter` in [0, 1] so that retries of many sagas do not arrive in lockstep.
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, jitter: number): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(policy.maxBackoffMs, policy.backoffMs * Math.pow(policy.multiplier, exponent));
  const j = Number.isFinite(jitter) ? Math.min(1, Math.max(0, jitter)) : 0;
  return Math.round(base * (0.5 + j / 2));
}
