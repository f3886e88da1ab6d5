import { MessagingError } from './messaging.errors';

const PATTERN = /^[A-Za-z0-9*?][A-Za-z0-9._:\-/*?]{0,199}$/;

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
