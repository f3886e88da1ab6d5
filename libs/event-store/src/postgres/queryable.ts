/** A statement with its parameters; `name` makes it a prepared statement (one text per name). */
export interface QueryConfig {
  name?: string;
  text: string;
  values?: unknown[];
}

export interface QueryRows<R> {
  rows: R[];
  rowCount: number | null;
}

/**
 * What the store needs of a connection, structurally: a pg Pool, or a PoolClient (often inside a
 * transaction the caller owns). The store's own, so that its port does not depend on pg's types.
 */
export interface Queryable {
  query<R extends object = any>(config: QueryConfig): Promise<QueryRows<R>>;
  query<R extends object = any>(text: string, values?: unknown[]): Promise<QueryRows<R>>;
}

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

export function pgConstraint(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { constraint?: string }).constraint : undefined;
}
