import { QueryConfig, QueryResult, QueryResultRow } from 'pg';

/** A pg Pool, or a PoolClient inside a transaction the caller owns. */
export interface Queryable {
  query<R extends QueryResultRow = any>(config: QueryConfig): Promise<QueryResult<R>>;
  query<R extends QueryResultRow = any>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

export function pgConstraint(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { constraint?: string }).constraint : undefined;
}
