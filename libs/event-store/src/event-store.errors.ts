import { ExpectedVersion } from './event-store.types';

export type EventStoreErrorCode = 'WRONG_EXPECTED_VERSION' | 'DUPLICATE_EVENT_ID' | 'INVALID_APPEND';

/** Expected outcomes of event-store calls, told apart by `code` (infrastructure faults are thrown as is). */
export class EventStoreError extends Error {
  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'EventStoreError';
  }
}

export function wrongExpectedVersion(streamId: string, expected: ExpectedVersion, actual: number): EventStoreError {
  return new EventStoreError(
    'WRONG_EXPECTED_VERSION',
    `stream ${streamId}: expected version ${expected}, actual ${actual === -1 ? 'no stream' : actual}`,
    { streamId, expectedVersion: expected, actualVersion: actual },
  );
}

export function isEventStoreError(err: unknown, code?: EventStoreErrorCode): err is EventStoreError {
  return err instanceof EventStoreError && (code === undefined || err.code === code);
}
