/** Metadata carried by every stored event. */
export interface EventMetadata {
  tenantId: string;
  correlationId?: string;
  causationId?: string;
  actor?: string;
  /** W3C trace context of the span that wrote the event (a saga's start: its steps join that trace). */
  traceparent?: string;
  [key: string]: unknown;
}

/** An event to append. `eventId` makes the append idempotent; one is generated when absent. */
export interface NewEvent<Type extends string = string, Data = unknown> {
  eventId?: string;
  type: Type;
  data: Data;
  schemaVersion?: number;
  metadata?: Partial<EventMetadata>;
}

/** An event as stored and read back. */
export interface RecordedEvent<Type extends string = string, Data = unknown> {
  eventId: string;
  streamId: string;
  version: number;
  globalPosition: number;
  type: Type;
  schemaVersion: number;
  data: Data;
  metadata: EventMetadata;
  recordedAt: Date;
}

/**
 * What the writer believes about the stream: `any` (no check), `no_stream` (must not exist),
 * `stream_exists` (must have at least one event) or the exact version of its last event (0-based).
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendOptions {
  expectedVersion?: ExpectedVersion;
  /** Tenant of the events; also the default `metadata.tenantId`. */
  tenantId: string;
  /** Metadata merged into every event of the batch (event metadata wins). */
  metadata?: Partial<EventMetadata>;
}

/** One stream's part of a multi-stream append (`appendToStreams`). */
export interface StreamAppend extends AppendOptions {
  streamId: string;
  events: NewEvent[];
}

export interface AppendResult {
  streamId: string;
  firstVersion: number;
  /** Version of the last event appended: the expected version for the next append. */
  nextExpectedVersion: number;
  /** Global position of the last event appended. */
  globalPosition: number;
}

/** Where a stream stands, for checks before or after an append (no events are read). */
export interface StreamHead {
  streamId: string;
  /** Version of the stream's last event, -1 when the stream has no events. */
  version: number;
  /** The stream holds events of a tenant other than the one asked about. */
  otherTenant: boolean;
}

export type ReadDirection = 'forward' | 'backward';

export interface ReadStreamOptions {
  /** Inclusive start version; forward defaults to 0, backward to the last event. */
  fromVersion?: number;
  limit?: number;
  direction?: ReadDirection;
  /** When set, another tenant's stream reads as empty. */
  tenantId?: string;
}

export interface ReadStreamResult {
  streamId: string;
  /** Version of the stream's last event, -1 when the stream has no events. */
  version: number;
  events: RecordedEvent[];
}

export interface ReadAllOptions {
  /** Exclusive: events with a greater global position. Defaults to 0 (from the start). */
  after?: number;
  limit?: number;
  category?: string;
  /** Only this tenant's events; omit for all (admin / internal readers). */
  tenantId?: string;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /**
   * Where the next page starts (pass as `after`). Equals the last event's position, or `after`
   * when nothing new is safely readable yet.
   */
  lastPosition: number;
}

/** Maps an older stored shape of an event type to the current one, on read. */
export interface Upcaster {
  type: string;
  fromSchemaVersion: number;
  toSchemaVersion: number;
  upcast(data: unknown, metadata: EventMetadata): unknown;
}

export interface Snapshot<State = unknown> {
  streamId: string;
  version: number;
  schemaVersion: number;
  state: State;
}

export const PLATFORM_CATEGORIES = ['saga', 'agent', 'task', 'quota', 'service', 'tenant', 'workflowdef', 'schedule'] as const;

/** The category of a stream id: the text before the first `-`. */
export function categoryOf(streamId: string): string {
  const i = streamId.indexOf('-');
  return i < 0 ? streamId : streamId.slice(0, i);
}
