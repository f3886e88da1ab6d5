import { hostname } from 'os';
import { SubscribeOptions } from './message-bus.port';
import { MessagingError } from './messaging.errors';
import { assertName } from './message-bus.validation';

export type ResolvedSubscribeOptions = Required<SubscribeOptions>;

/** The options of a subscription with their defaults, checked. */
export function resolveSubscribeOptions(options: SubscribeOptions = {}): ResolvedSubscribeOptions {
  const consumer = options.consumer ?? `${hostLabel()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  assertName('consumer', consumer);
  const idleMs = integer('idleMs', options.idleMs ?? 30_000, 1);
  return {
    consumer,
    maxDeliveries: integer('maxDeliveries', options.maxDeliveries ?? 5, 1),
    idleMs,
    batchSize: integer('batchSize', options.batchSize ?? 10, 1),
    retryDelayMs: Math.min(integer('retryDelayMs', options.retryDelayMs ?? 100, 0), idleMs),
  };
}

function integer(name: string, value: number, min: 0 | 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new MessagingError('INVALID_ARGUMENT', `${name} must be a ${min === 1 ? 'positive' : 'non-negative'} integer`);
  }
  return value;
}

function hostLabel(): string {
  const host = (process.env.HOSTNAME || hostname() || 'host').replace(/[^A-Za-z0-9._-]/g, '-');
  return /^[A-Za-z0-9]/.test(host) ? host.slice(0, 60) : `h${host.slice(0, 59)}`;
}
