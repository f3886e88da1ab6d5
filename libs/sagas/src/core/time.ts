import { SagaError } from './saga.errors';
import { Instant } from './saga.commands';

export function toIso(at: Instant): string {
  const ms = toMs(at);
  return new Date(ms).toISOString();
}

export function toMs(at: Instant): number {
  const ms = at instanceof Date ? at.getTime() : Date.parse(at);
  if (!Number.isFinite(ms)) throw new SagaError('INVALID_COMMAND', `invalid time: ${String(at)}`);
  return ms;
}

export function addMs(at: Instant, ms: number): string {
  return new Date(toMs(at) + ms).toISOString();
}
