import { Queryable } from './queryable';

/**
 * `lock_streams`: writers that must not be overtaken between reading a stream and appending to it
 * (an operator's command on a saga that a worker moves on every few milliseconds) take a
 * transaction-scoped advisory lock per stream first; every writer of such streams takes the same
 * locks (here, or `lock` of appendToStreams), in stream order so that no two writers deadlock.
 */
export const LOCK_STREAMS_SQL = `
create or replace function lock_streams(p_streams text[]) returns void
language plpgsql volatile as $$
declare
  v_stream text;
begin
  for v_stream in select distinct s from unnest(p_streams) as s order by 1 loop
    perform pg_advisory_xact_lock(hashtextextended('stream:' || v_stream, 0));
  end loop;
end
$$;
`;

/** Locks `streamIds` until the end of the transaction `tx` (waits for their current holders). */
export async function lockStreams(tx: Queryable, streamIds: string[]): Promise<void> {
  await tx.query({ name: 'saga_lock_streams', text: 'select lock_streams($1::text[])', values: [streamIds] });
}
