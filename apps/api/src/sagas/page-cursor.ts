import { badRequest } from '../http/problem';

/**
 * Keyset cursors: base64url of a JSON array whose first element is a timestamp rendered by
 * PostgreSQL with microseconds (so the next page starts exactly after the last row), followed by
 * the tie-breaking keys. Opaque to clients; anything that does not decode strictly is a 400.
 */
export const CURSOR_TIMESTAMP_SQL = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

const invalid = () => badRequest('invalid cursor', [{ field: 'cursor', message: 'must be a nextCursor returned by this endpoint' }]);

/** A timestamp PostgreSQL accepts as is: checked field by field (no month 13, no 30 February). */
function isValidTimestamp(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  if (y < 1) return false;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  date.setUTCFullYear(y); // Date.UTC maps years 0-99 to 1900-1999
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
}

function decode(cursor: string): unknown[] {
  if (!/^[A-Za-z0-9_-]{1,500}$/.test(cursor)) throw invalid();
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts)) return parts;
  } catch {
    // fall through
  }
  throw invalid();
}

/** `[timestamp, uuid]`. */
export function decodeTimeIdCursor(cursor: string): { at: string; id: string } {
  const parts = decode(cursor);
  const [at, id] = parts;
  if (parts.length !== 2 || !isValidTimestamp(at) || typeof id !== 'string' || !UUID.test(id)) throw invalid();
  return { at, id };
}

/** `[timestamp, uuid, seq]`. */
export function decodeTimeIdSeqCursor(cursor: string): { at: string; id: string; seq: number } {
  const parts = decode(cursor);
  const [at, id, seq] = parts;
  if (parts.length !== 3 || !isValidTimestamp(at) || typeof id !== 'string' || !UUID.test(id)) throw invalid();
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw invalid();
  return { at, id, seq };
}
