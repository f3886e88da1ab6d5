import { Transform } from 'class-transformer';
import { isUUID } from 'class-validator';
import { badRequest } from '../http/problem';

/**
 * Query strings arrive as strings (implicit conversion is off): only plain decimal integers become
 * numbers, anything else stays a string so that `@IsInt()` refuses it (`Number('')` would be 0).
 */
export const ToInt = () =>
  Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value));

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

/**
 * Keyset cursors of the read-model lists: the sort key and the row id of the last item of a page,
 * as base64url JSON. Opaque to clients; a tampered one is a 400, never a database error.
 */
export function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

const ISO_MICROS = /^[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function decodeCursor(cursor: string, keyKind: 'timestamp' | 'text'): { key: string; id: string } {
  const invalid = () => badRequest('invalid cursor', [{ field: 'cursor', message: 'cursor must be the nextCursor of a previous page' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [key, id] = parsed as unknown[];
  if (typeof key !== 'string' || typeof id !== 'string' || !isUUID(id) || key.length > 400 || key.includes('\u0000')) throw invalid();
  if (keyKind === 'timestamp') {
    // PostgreSQL refuses impossible dates (Feb 30) with an error: check the calendar here.
    const millis = `${key.slice(0, 23)}Z`;
    if (!ISO_MICROS.test(key) || Number.isNaN(Date.parse(millis)) || new Date(millis).toISOString() !== millis) throw invalid();
  }
  return { key, id };
}

/** SQL for a timestamp column as the cursor's key: UTC, microseconds (exact, unlike a JS Date). */
export const cursorTimestamp = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
