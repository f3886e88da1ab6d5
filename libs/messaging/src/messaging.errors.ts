export type MessagingErrorCode = 'INVALID_ARGUMENT' | 'BUS_UNAVAILABLE' | 'BUS_CLOSED' | 'EPOCH_CHANGED';

/** Errors of the message bus, told apart by `code`. `BUS_UNAVAILABLE` carries the broker's error as `cause`. */
export class MessagingError extends Error {
  constructor(
    readonly code: MessagingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MessagingError';
  }
}

export function isMessagingError(err: unknown, code?: MessagingErrorCode): err is MessagingError {
  return err instanceof MessagingError && (code === undefined || err.code === code);
}

/** The message of any thrown value: what a dead letter or a BUS_UNAVAILABLE error says. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
