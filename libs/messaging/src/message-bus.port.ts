/** A message as published. `id` is the publisher's id (an event id, say): consumers de-duplicate with it. */
export interface OutgoingMessage {
  id: string;
  /** Ordering key: messages of one key reach a subscription in publish order (first deliveries). */
  key?: string;
  /** Any JSON value; it crosses the bus serialised, so consumers get plain JSON back. */
  payload: unknown;
  headers?: Record<string, string>;
}

/** A message as a handler receives it. */
export interface DeliveredMessage {
  readonly id: string;
  readonly topic: string;
  readonly key?: string;
  readonly payload: unknown;
  readonly headers: Record<string, string>;
  /** How many times this group has been handed the message, this delivery included (1 the first time). */
  readonly deliveries: number;
}

/** Resolving acknowledges the message; throwing negatively acknowledges it with the error's message as reason. */
export type MessageHandler = (message: DeliveredMessage) => Promise<void>;

export interface SubscribeOptions {
  /** Name of this consumer inside its group (default: host, pid and a random suffix). */
  consumer?: string;
  /** Failed deliveries after which a message goes to the dead letters (default 5). */
  maxDeliveries?: number;
  /** A message left unacknowledged this long by its consumer (dead or stuck) goes to another consumer (default 30 000). */
  idleMs?: number;
  /** Messages fetched per read (default 10). */
  batchSize?: number;
  /** Delay before a negatively acknowledged message is delivered again (default 100, at most idleMs). */
  retryDelayMs?: number;
}

export interface Subscription {
  /** Stops deliveries to this consumer. Messages it has not acknowledged stay with the group and go to another consumer after idleMs. */
  close(): Promise<void>;
}

export interface DeadLetter {
  /** Id of the dead letter itself (not of the message): pass it to replayDeadLetter. */
  id: string;
  topic: string;
  /** The consumer group whose deliveries failed. */
  group: string;
  message: { id: string; key?: string; payload: unknown; headers: Record<string, string> };
  /** The last handler error, or why the message was never acknowledged. */
  reason: string;
  deliveries: number;
  /** ISO-8601 time the message was dead-lettered. */
  at: string;
}

export interface DeadLetterQuery {
  topic?: string;
  /** Page size, 1 to 1000. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface DeadLetterPage {
  /** Oldest first. */
  items: DeadLetter[];
  /** Present when the page is full: more dead letters may follow. */
  nextCursor?: string;
}

export type NotifyListener = (payload: string) => void;

/**
 * The message bus port: durable topics with consumer groups (at-least-once, acknowledged, redelivered,
 * dead-lettered after `maxDeliveries` failures) plus a non-durable notification fan-out.
 *
 * It distributes; it never holds the truth. Everything published can be re-published from the event
 * store, so a publish that rejects is retried by the caller from its checkpoint.
 *
 * Topics are names like `saga.started` (letters, digits, `. _ : - /`). A group created by subscribing
 * receives the messages published after it first subscribed; a pattern such as `saga.*` (`*` any run of
 * characters, `?` one) also covers topics first published while it is subscribed, from their first message.
 */
export interface MessageBus {
  /**
   * Appends to the topic. Rejects when the broker cannot take it. With `ifEpoch`, rejects with
   * EPOCH_CHANGED (and appends nothing) unless the broker's epoch is still that one, atomically:
   * a publisher that must not publish past a data loss (see `epoch`) checks and appends in one step.
   */
  publish(topic: string, message: OutgoingMessage, options?: { ifEpoch?: string }): Promise<void>;
  /**
   * Delivers every message of the matching topics to one consumer of `group`; each group gets every
   * message, the consumers of a group share them. Rejects when the broker is unreachable at the time;
   * once subscribed, the subscription survives broker outages.
   */
  subscribe(pattern: string, group: string, handler: MessageHandler, options?: SubscribeOptions): Promise<Subscription>;
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage>;
  /** Re-publishes a dead letter to its topic (every group receives it again) and removes it. False if there is no such dead letter. */
  replayDeadLetter(id: string): Promise<boolean>;
  /** Wakes the listeners of `channel` in every process. Best effort: not durable, never rejects. */
  notify(channel: string, payload?: string): Promise<void>;
  onNotify(channel: string, listener: NotifyListener): Promise<Subscription>;
  /**
   * A value that changes when the broker loses its data (e.g. Redis flushed or restarted without
   * persistence): publishers that checkpoint what they sent use it to send again what was lost.
   */
  epoch(): Promise<string>;
  /** Closes every subscription and connection. */
  close(): Promise<void>;
}
