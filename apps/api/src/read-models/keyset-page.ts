import { Queryable } from '@app/event-store';
import { cursorTimestamp, decodeCursor, encodeCursor } from './query-params';

/** How a read-model table is paged: by a sort key, ties broken by the row's uuid. */
export interface KeysetSpec {
  table: string;
  idColumn: string;
  keyColumn: string;
  keyKind: 'timestamp' | 'text';
  direction: 'asc' | 'desc';
}

/** An equality-style filter: `sql` receives the placeholder of `value`. */
export interface Filter {
  sql: (placeholder: string) => string;
  value: unknown;
}

export interface RowPage<R> {
  rows: R[];
  nextCursor?: string;
}

/**
 * One page of a read-model table in keyset order (stable under concurrent inserts, no OFFSET).
 * `nextCursor` is set only when another row follows.
 */
export async function keysetPage<R extends Record<string, unknown>>(
  db: Queryable,
  spec: KeysetSpec,
  filters: Filter[],
  limit: number,
  cursor?: string,
): Promise<RowPage<R>> {
  const values: unknown[] = [];
  const where: string[] = [];
  for (const f of filters) {
    values.push(f.value);
    where.push(f.sql(`$${values.length}`));
  }
  if (cursor !== undefined) {
    const c = decodeCursor(cursor, spec.keyKind);
    values.push(c.key, c.id);
    const keyType = spec.keyKind === 'timestamp' ? 'timestamptz' : 'text';
    const op = spec.direction === 'desc' ? '<' : '>';
    where.push(`(${spec.keyColumn}, ${spec.idColumn}) ${op} ($${values.length - 1}::${keyType}, $${values.length}::uuid)`);
  }
  values.push(limit + 1);
  const keyExpr = spec.keyKind === 'timestamp' ? cursorTimestamp(spec.keyColumn) : spec.keyColumn;
  const { rows } = await db.query<R & { cursor_key: string }>(
    `select *, ${keyExpr} as cursor_key
       from ${spec.table}
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by ${spec.keyColumn} ${spec.direction}, ${spec.idColumn} ${spec.direction}
      limit $${values.length}`,
    values,
  );
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    rows: page,
    ...(more && last ? { nextCursor: encodeCursor(last.cursor_key, String(last[spec.idColumn])) } : {}),
  };
}
