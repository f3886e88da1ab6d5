/**
 * Global position and gap safety: the store's core promise, and the SQL that keeps it.
 *
 * A reader that pages the global log by position must never skip an event that commits later with
 * a lower position. With a plain BIGSERIAL, transaction A can draw position 5, transaction B draw 6
 * and commit first; a reader sees 6, stores checkpoint 6, and never sees 5 when A commits.
 *
 * We use Emmett's idea (order by transaction id, read only below the oldest running transaction)
 * but pack it into a single number so that the log stays one integer-ordered sequence:
 *
 *     global_position = (top-level transaction id << 16) + sequence inside that transaction
 *
 * (`events_claim_positions`, called by every append) and readers only return positions below the
 * read horizon H << 16, where H is at most the oldest transaction id still running in this
 * database (`events_read_horizon`, used by `read_all_events` in read-all.ts and by the head and
 * count reads in log-head.ts). Every transaction that can still commit an event has an id >= H, so
 * every event it commits will have a position above all positions any reader has already returned:
 * no reader can ever skip an event. The cost is that an event becomes readable only when all older
 * writing transactions of this database have ended (as in Emmett). Compared with a global append
 * lock (Commanded), writers never wait for each other; compared with a high-water mark with gap
 * timeouts (Marten), no event can ever be skipped, however long a transaction runs. Positions
 * increase but are not contiguous; xid8 stays below 2^37 for any realistic lifetime, so positions
 * stay below 2^53 (exact in JavaScript numbers). Proven by gap-safety.int-spec.ts.
 */
export const GAP_SAFETY_SQL = `
-- The read horizon H (a transaction id; readers return positions below H << 16).
-- pg_snapshot_xmin() would do, but it is cluster-wide: a long transaction in ANY database of the
-- server would hold our log back. So: H = least(xmax of a snapshot taken first, the oldest
-- transaction id still running in THIS database, read after that snapshot). Proof that no event
-- below H can still commit: a transaction T with id < H was not running when the activity was read
-- (else H <= T), and its id is below that snapshot's xmax, so it was assigned before; T has
-- therefore ended before the events are read by a LATER statement (see read_all_events), whose
-- snapshot sees it if it committed. Activity is re-read (pg_stat_clear_snapshot) on every call.
create or replace function events_read_horizon() returns bigint
language plpgsql volatile as $$
declare
  v_xmax xid8;
  v_xmax_n bigint;
  v_oldest bigint;
begin
  v_xmax := pg_snapshot_xmax(pg_current_snapshot());
  v_xmax_n := v_xmax::text::bigint;
  perform pg_stat_clear_snapshot();
  -- 32-bit xids of running transactions, widened to 64 bits relative to v_xmax (they are recent):
  -- the 32-bit distance is taken as signed, so an xid assigned after the snapshot lands above xmax.
  select min(v_xmax_n - case when d >= 2147483648 then d - 4294967296 else d end)
    into v_oldest
    from (select ((v_xmax_n - x::text::bigint) % 4294967296 + 4294967296) % 4294967296 as d
            from (select backend_xid as x from pg_stat_activity
                   where datid = (select oid from pg_database where datname = current_database())
                     and backend_xid is not null
                  union all
                  select transaction from pg_prepared_xacts where database = current_database()) running) widened;
  return least(v_xmax_n, coalesce(v_oldest, v_xmax_n));
end
$$;

-- Highest position (exclusive) a reader may return now. Used inline by informational queries
-- (head, counts, lag); the global-log read itself goes through read_all_events.
create or replace function events_safe_position() returns bigint
language sql volatile as $$
  select events_read_horizon() << 16
$$;

-- Claims p_count consecutive positions in this transaction and returns the first:
-- (xid << 16) + the transaction's sequence, kept in a transaction-local setting (reset when the
-- transaction ends), so that every append of one transaction gets distinct, increasing positions.
create or replace function events_claim_positions(p_count integer) returns bigint
language plpgsql volatile as $$
declare
  v_seq integer := coalesce(nullif(current_setting('saga.position_seq', true), ''), '0')::integer;
begin
  if v_seq + p_count > 65536 then
    raise exception 'more than 65536 events in one transaction' using errcode = '54000';
  end if;
  perform set_config('saga.position_seq', (v_seq + p_count)::text, true);
  return (pg_current_xact_id()::text::bigint << 16) + v_seq;
end
$$;
`;
