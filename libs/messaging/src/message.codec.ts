import { DeadLetter, OutgoingMessage } from './message-bus.port';
import { MessagingError, reasonOf } from './messaging.errors';

/** A message as a consumer gets it back, before the bus adds topic and delivery count. */
export type DecodedMessage = DeadLetter['message'];

/**
 * The one codec of both adapters. A message is stored as the flat field list of a Redis stream entry:
 * `id`, `payload` (JSON), `headers` (JSON) and `key` when there is one. The in-memory bus stores the same
 * list, so that a payload crosses either bus serialised alike (consumers get plain JSON back).
 */
export function encodeMessage(message: OutgoingMessage): string[] {
  let payload: string;
  try {
    payload = JSON.stringify(message.payload ?? null);
  } catch (err) {
    throw new MessagingError('INVALID_ARGUMENT', `payload is not serialisable: ${reasonOf(err)}`);
  }
  const record: Record<string, string> = { id: message.id, payload, headers: JSON.stringify(message.headers ?? {}) };
  if (message.key !== undefined) record.key = message.key;
  return messageFieldsOf(record);
}

/** Throws on a malformed entry (no id, JSON that does not parse). */
export function decodeMessage(fields: readonly string[]): DecodedMessage {
  const record = fieldsToRecord(fields);
  if (!record.id) throw new Error('malformed message: no id');
  const message: DecodedMessage = {
    id: record.id,
    payload: JSON.parse(record.payload ?? 'null'),
    headers: JSON.parse(record.headers ?? '{}'),
  };
  if (record.key !== undefined) message.key = record.key;
  return message;
}

/** The message fields out of a record that holds them among others (a dead letter), still encoded. */
export function messageFieldsOf(record: Record<string, string>): string[] {
  const fields = ['id', record.id, 'payload', record.payload ?? 'null', 'headers', record.headers ?? '{}'];
  if (record.key !== undefined) fields.push('key', record.key);
  return fields;
}

export function fieldsToRecord(fields: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]] = fields[i + 1];
  return record;
}

export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
