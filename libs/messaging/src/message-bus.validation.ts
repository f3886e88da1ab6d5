import { OutgoingMessage } from './message-bus.port';
import { MessagingError } from './messaging.errors';

// Names start with a letter or digit so that the adapters can keep their own keys under `__`.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:\-/]{0,199}$/;

export function assertName(kind: 'topic' | 'group' | 'consumer' | 'channel', name: string): void {
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

/** The page size of a dead-letter query. */
export function clampLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new MessagingError('INVALID_ARGUMENT', 'limit must be an integer from 1 to 1000');
  }
  return limit;
}
