-- Event store: events, snapshots and the append function.
--
-- Global position and gap safety
-- ------------------------------
-- A reader that pages the global log by position must never skip an event that commits later with
-- a lower position. With a plain BIGSERIAL, transaction A can draw position 5, transaction B draw 6
-- and commit first; a reader sees 6, stores checkpoint 6, and never sees 5 when A commits.
--
-- We use Emmett's idea (order by transaction id, read only below the oldest running transaction)
-- but pack it into a single number so that the log stays one integer-ordered sequence:
--
--     global_position = (top-level transaction id << 16) + sequence inside that transaction
--
-- and readers only return positions below the read horizon H << 16, where H is at most the oldest
-- transaction id still running in this database (see read_all_events below). Every transaction
-- that can still commit an event has an id >= H, so every event it commits will have a position
-- above all positions any reader has already returned: no reader can ever skip an event.
-- The cost is that an event becomes readable only when all older writing transactions of this
-- database have ended (as in Emmett). Compared with a global append lock (Commanded), writers never
-- wait for each other; compared with a high-water mark with gap timeouts (Marten), no event can
-- ever be skipped, however long a transaction runs. Positions increase but are not contiguous;
-- xid8 stays below 2^37 for any realistic lifetime, so positions stay below 2^53 (exact in
-- JavaScript numbers).

create table events (
  global_position bigint      primary key,
  event_id        uuid        not null,
  stream_id       text        not null,
  category        text        not null generated always as (split_part(stream_id, '-', 1)) stored,
  version         bigint      not null,
  type            text        not null,
  schema_version  integer     not null default 1,
  data            jsonb       not null,
  metadata        jsonb       not null default '{}'::jsonb,
  tenant_id       text        not null,
  recorded_at     timestamptz not null default now(),
  constraint events_stream_version_uq unique (stream_id, version),
  constraint events_event_id_uq unique (event_id)
);

create table snapshots (
  stream_id      text        not null,
  schema_version integer     not null,
  version        bigint      not null,
  state          jsonb       not null,
  created_at     timestamptz not null default now(),
  primary key (stream_id, schema_version)
);

-- The read horizon H (a transaction id; readers return positions below H << 16).
-- pg_snapshot_xmin() would do, but it is cluster-wide: a long transaction in ANY database of the
-- server would hold our log back. So: H = least(xmax of a snapshot taken first, the oldest
-- transaction id still running in THIS database, read after that snapshot). Proof that no event
-- below H can still commit: a transaction T with id < H was not running when the activity was read
-- (else H <= T), and its id is below that snapshot's xmax, so it was assigned before; T has
-- therefore ended before the events are read by a LATER statement (see read_all_events), whose
-- snapshot sees it if it committed. Activity is re-read (pg_stat_clear_snapshot) on every call.
create function events_read_horizon() returns bigint
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
-- (head, lag); the global-log read itself goes through read_all_events.
create function events_safe_position() returns bigint
language sql volatile as $$
  select events_read_horizon() << 16
$$;

-- The global log after a position, gap-safe: the horizon is computed by one statement, and the
-- events are read by the next one, with a newer snapshot (plpgsql, READ COMMITTED).
create function read_all_events(p_after bigint, p_limit integer, p_category text, p_tenant_id text)
returns setof events
language plpgsql volatile as $$
declare
  v_safe bigint := events_read_horizon() << 16;
begin
  return query
    select * from events e
     where e.global_position > p_after and e.global_position < v_safe
       and (p_category is null or e.category = p_category)
       and (p_tenant_id is null or e.tenant_id = p_tenant_id)
     order by e.global_position
     limit p_limit;
end
$$;

-- Appends a batch atomically in one round trip.
--   p_expected_kind: 0 any, 1 no_stream, 2 stream_exists, 3 exact (p_expected_version).
--   p_events: [{ "eventId", "type", "schemaVersion", "data", "metadata" }, ...]
-- Returns ('ok', last version, first version, last position) or ('conflict', actual version).
-- A concurrent writer that wins the race makes the insert fail on events_stream_version_uq (23505);
-- the caller maps that to WRONG_EXPECTED_VERSION (or to an idempotent replay, by event id).
create function append_to_stream(
  p_stream_id text,
  p_tenant_id text,
  p_expected_kind smallint,
  p_expected_version bigint,
  p_events jsonb,
  p_notify boolean
) returns table (outcome text, current_version bigint, first_version bigint, last_position bigint)
language plpgsql volatile as $$
declare
  v_current bigint;
  v_count integer := jsonb_array_length(p_events);
  v_seq integer;
  v_base bigint;
begin
  select max(e.version) into v_current from events e where e.stream_id = p_stream_id;
  if (p_expected_kind = 1 and v_current is not null)
     or (p_expected_kind = 2 and v_current is null)
     or (p_expected_kind = 3 and coalesce(v_current, -1) <> p_expected_version) then
    return query select 'conflict'::text, v_current, null::bigint, null::bigint;
    return;
  end if;

  -- Sequence inside this transaction: a transaction-local setting, reset when it ends.
  v_seq := coalesce(nullif(current_setting('saga.position_seq', true), ''), '0')::integer;
  if v_seq + v_count > 65536 then
    raise exception 'more than 65536 events in one transaction' using errcode = '54000';
  end if;
  perform set_config('saga.position_seq', (v_seq + v_count)::text, true);
  v_base := (pg_current_xact_id()::text::bigint << 16) + v_seq;

  insert into events (global_position, event_id, stream_id, version, type, schema_version, data, metadata, tenant_id)
  select v_base + e.ord - 1,
         (e.value ->> 'eventId')::uuid,
         p_stream_id,
         coalesce(v_current, -1) + e.ord,
         e.value ->> 'type',
         coalesce((e.value ->> 'schemaVersion')::integer, 1),
         e.value -> 'data',
         coalesce(e.value -> 'metadata', '{}'::jsonb),
         p_tenant_id
  from jsonb_array_elements(p_events) with ordinality as e(value, ord);

  if p_notify then
    perform pg_notify('saga_events', split_part(p_stream_id, '-', 1));
  end if;

  return query select 'ok'::text, coalesce(v_current, -1) + v_count, coalesce(v_current, -1) + 1, v_base + v_count - 1;
end
$$;
