import { hostname } from 'os';
import { MessagingError } from './messaging.errors';
import { OutgoingMessage, SubscribeOptions } from './message-bus.port';

// Names start with a letter or digit so that the adapters can keep their own keys under `__`.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:\-/]{0,199}$/;
const PATTERN = /^[A-Za-z0-9*?][A-Za-z0-9._:\-/*?]{0,199}$/;

export function assertTopic(topic: string): void {
  if (typeof topic !== 'string' || !NAME.test(topic)) {
    throw new MessagingError('INVALID_ARGUMENT', `invalid topic ${JSON.stringify(topic)}`);
  }
}

export function assertName(kind: 'group' | 'consumer' | 'channel', name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new MessagingError('INVALID_ARGUMENT', `invalid ${kind} ${JSON.stringify(name)}`);
  }
}

export function assertMessage(message: OutgoingMessage): void {
  if (!message || typeof message.id !== 'string' || message.id.length === 0) {
    throw new MessagingError('INVALID_ARGUMENT', 'a message needs a non-empty string id');
  }
  if (message.key !== undefined && typeof message.key !== 'string') {
    throw new MessagingError('INVALID_ARGUMENT', 'a message key must be a string');
  }
}

/** A topic or a glob (`*` any run of characters, `?` one character), compiled to a predicate. */
export interface TopicMatcher {
  readonly pattern: string;
  /** The topic itself when the pattern has no wildcard. */
  readonly exact?: string;
  matches(topic: string): boolean;
}

export function topicMatcher(pattern: string): TopicMatcher {
  if (typeof pattern !== 'string' || !PATTERN.test(pattern)) {
    throw new MessagingError('INVALID_ARGUMENT', `invalid topic pattern ${JSON.stringify(pattern)}`);
  }
  if (!/[*?]/.test(pattern)) return { pattern, exact: pattern, matches: (topic) => topic === pattern };
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.\-/:]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${source}$`);
  return { pattern, matches: (topic) => regex.test(topic) };
}

export interface ResolvedSubscribeOptions {
  consumer: string;
  maxDeliveries: number;
  idleMs: number;
  batchSize: number;
  retryDelayMs: number;
}

export function resolveSubscribeOptions(options: SubscribeOptions = {}): ResolvedSubscribeOptions {
  const consumer = options.consumer ?? `${hostLabel()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  assertName('consumer', consumer);
  const idleMs = positive('idleMs', options.idleMs ?? 30_000);
  return {
    consumer,
    maxDeliveries: positive('maxDeliveries', options.maxDeliveries ?? 5),
    idleMs,
    batchSize: positive('batchSize', options.batchSize ?? 10),
    retryDelayMs: Math.min(nonNegative('retryDelayMs', options.retryDelayMs ?? 100), idleMs),
  };
}

export function clampLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new MessagingError('INVALID_ARGUMENT', 'limit must be an integer from 1 to 1000');
  }
  return limit;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new MessagingError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new MessagingError('INVALID_ARGUMENT', `${name} must be a non-negative integer`);
  return value;
}

function hostLabel(): string {
  const host = (process.env.HOSTNAME || hostname() || 'host').replace(/[^A-Za-z0-9._-]/g, '-');
  return /^[A-Za-z0-9]/.test(host) ? host.slice(0, 60) : `h${host.slice(0, 59)}`;
}

export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export function unacknowledgedReason(deliveries: number): string {
  return `not acknowledged after ${deliveries} deliveries (consumer stopped or timed out)`;
}
