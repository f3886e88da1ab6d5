import { Pool } from 'pg';
import { badRequest } from './problem';

/**
 * Keyset paging of the read-model lists (sagas, compensations, agents, tasks, services): no OFFSET,
 * stable under concurrent inserts. A cursor is base64url JSON of the last row's sort key, timestamps
 * rendered by PostgreSQL with microseconds (a JS Date would lose them and repeat or skip rows).
 * Opaque to clients; anything that does not decode strictly is a 400, never a database error.
 *
 * Not a pagination library: those we looked at page through an ORM (TypeORM, Kysely) or by OFFSET;
 * our lists are plain SQL on the pg pool, and the strict cursor check is what keeps forged cursors
 * at 400 instead of 500.
 */

/** How a sort-key column is typed in the cursor and cast in SQL. */
export type KeyKind = 'timestamp' | 'text' | 'uuid' | 'integer';

/** How a read-model table is paged: by its key columns, the last ones breaking ties (unique together). */
export interface KeysetSpec {
  table: string;
  keys: [column: string, kind: KeyKind][];
  direction: 'asc' | 'desc';
}

/** An equality-style filter: `sql` receives the placeholder of `value`. */
export interface Filter {
  sql: (placeholder: string) => string;
  value: unknown;
}

/** `column = value`, or no filter at all when the value is undefined. */
export const equals = (column: string, value: string | undefined): Filter[] => (value === undefined ? [] : [{ sql: (p) => `${column} = ${p}`, value }]);

/** `limit` and `cursor` of a list query (the page DTO fills in the route's default limit). */
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/** A page of a list route: `nextCursor` only when another item follows. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

const CAST: Record<KeyKind, string> = { timestamp: 'timestamptz', text: 'text', uuid: 'uuid', integer: 'bigint' };

/** SQL for a timestamp column as a cursor key: UTC, microseconds (exact, unlike a JS Date). */
const cursorTimestamp = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const invalid = () => badRequest('invalid cursor', [{ field: 'cursor', message: CURSOR_MESSAGE }]);

export const CURSOR_MESSAGE = 'cursor must be the nextCursor of a previous page';
/** What a cursor of these lists looks like at all (checked by the page DTO before any decoding). */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]{1,1200}$/;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A timestamp PostgreSQL accepts as is: checked field by field (no month 13, no 30 February). */
function isValidTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  if (y < 1) return false;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  date.setUTCFullYear(y); // Date.UTC maps years 0-99 to 1900-1999
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
}

function isValidPart(kind: KeyKind, part: unknown): boolean {
  switch (kind) {
    case 'timestamp':
      return typeof part === 'string' && isValidTimestamp(part);
    case 'uuid':
      return typeof part === 'string' && UUID.test(part);
    case 'text':
      return typeof part === 'string' && part.length <= 400 && !part.includes('\u0000');
    case 'integer':
      return typeof part === 'number' && Number.isSafeInteger(part) && part >= 0;
  }
}

export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The key values of a cursor, one per kind, each checked (a 400 otherwise). */
export function decodeCursor(cursor: string, kinds: KeyKind[]): (string | number)[] {
  if (!CURSOR_PATTERN.test(cursor)) throw invalid();
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parts) || parts.length !== kinds.length || !kinds.every((kind, i) => isValidPart(kind, parts[i]))) throw invalid();
  return parts;
}

/** One page of a read-model table in keyset order, each row made an item by `toItem`. */
export async function keysetPage<R extends Record<string, unknown>, T>(
  db: Pick<Pool, 'query'>,
  spec: KeysetSpec,
  filters: Filter[],
  { limit, cursor }: PageQuery,
  toItem: (row: R) => T,
): Promise<Page<T>> {
  const values: unknown[] = [];
  const where: string[] = [];
  for (const f of filters) {
    values.push(f.value);
    where.push(f.sql(`$${values.length}`));
  }
  const columns = spec.keys.map(([column]) => column).join(', ');
  if (cursor !== undefined) {
    const parts = decodeCursor(
      cursor,
      spec.keys.map(([, kind]) => kind),
    );
    const placeholders = spec.keys.map(([, kind], i) => {
      values.push(parts[i]);
      return `$${values.length}::${CAST[kind]}`;
    });
    where.push(`(${columns}) ${spec.direction === 'desc' ? '<' : '>'} (${placeholders.join(', ')})`);
  }
  values.push(limit + 1);
  const keyValues = spec.keys.map(([column, kind], i) => `${kind === 'timestamp' ? cursorTimestamp(column) : column} as cursor_${i}`);
  const { rows } = await db.query<R>(
    `select *, ${keyValues.join(', ')}
       from ${spec.table}
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by ${spec.keys.map(([column]) => `${column} ${spec.direction}`).join(', ')}
      limit $${values.length}`,
    values,
  );
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    items: page.map(toItem),
    ...(more && last ? { nextCursor: encodeCursor(spec.keys.map(([, kind], i) => cursorValue(kind, last[`cursor_${i}`]))) } : {}),
  };
}

function cursorValue(kind: KeyKind, value: unknown): string | number {
  return kind === 'integer' ? Number(value) : String(value);
}
