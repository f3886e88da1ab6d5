-- Several streams appended atomically in one statement (one round trip), each with its own
-- expected version: e.g. a worker committing the transitions of many sagas, with the domain events
-- of their steps, in one group commit.
--
-- p_appends: [{ "streamId", "tenantId", "kind" (0 any, 1 no_stream, 2 stream_exists, 3 exact),
--               "version" (kind 3), "events": [ same shape as append_to_stream's p_events ] }]
-- Entries are applied in order, so two entries may append to the same stream (the second one
-- expecting the version the first one leaves). Set-based: one version lookup per distinct stream,
-- then ONE insert of every event. Positions follow append_to_stream's rule ((xid << 16) + the
-- transaction's sequence), in entry order.
--
-- p_all_or_nothing (default): a version conflict in ANY entry raises SQLSTATE 'SA409' with the
-- entry (index, streamId, current version) as JSON in DETAIL, so the statement writes nothing.
-- Otherwise each entry stands alone (independent appends of different callers grouped into one
-- commit): a conflicting entry writes nothing and is returned with outcome 'conflict' and the
-- stream's current version; the others are written. (Either way, two transactions racing past the
-- check collide on events_stream_version_uq, as with append_to_stream.)
-- Writers that must not be overtaken between reading a stream and appending to it (an operator's
-- command on a saga that a worker moves on every few milliseconds) take a transaction-scoped
-- advisory lock per stream first; every writer of such streams takes the same locks (p_lock below,
-- or lock_streams in its transaction), in stream order so that no two writers deadlock.
create function lock_streams(p_streams text[]) returns void
language plpgsql volatile as $$
declare
  v_stream text;
begin
  for v_stream in select distinct s from unnest(p_streams) as s order by 1 loop
    perform pg_advisory_xact_lock(hashtextextended('stream:' || v_stream, 0));
  end loop;
end
$$;

-- p_lock: streams to lock (lock_streams) before anything is read: a version probe made after the
-- lock sees the commit of whoever held it.
create function append_to_streams(p_appends jsonb, p_all_or_nothing boolean default true, p_lock text[] default null)
returns table (idx integer, outcome text, current_version bigint, first_version bigint, last_position bigint)
language plpgsql volatile as $$
declare
  v_n integer := jsonb_array_length(p_appends);
  v_ids text[];
  v_cur jsonb;
  v_firsts bigint[] := '{}';
  v_counts integer[] := '{}';
  v_offsets integer[] := '{}';
  v_ok boolean[] := '{}';
  v_total integer := 0;
  v_seq integer;
  v_base bigint;
  a record;
  v_stream text;
  v_kind smallint;
  v_have bigint;
  v_count integer;
begin
  if p_lock is not null then
    perform lock_streams(p_lock);
  end if;
  select array_agg(distinct e.value ->> 'streamId') into v_ids from jsonb_array_elements(p_appends) e;
  -- max(version) per stream: one backward index probe each (no scan of long streams).
  select coalesce(jsonb_object_agg(s.id, (select max(ev.version) from events ev where ev.stream_id = s.id)), '{}'::jsonb)
    into v_cur
    from unnest(v_ids) as s(id);

  for a in select value, ordinality from jsonb_array_elements(p_appends) with ordinality loop
    v_stream := a.value ->> 'streamId';
    v_kind := (a.value ->> 'kind')::smallint;
    v_have := (v_cur ->> v_stream)::bigint; -- null: the stream has no events
    if (v_kind = 1 and v_have is not null)
       or (v_kind = 2 and v_have is null)
       or (v_kind = 3 and coalesce(v_have, -1) <> (a.value ->> 'version')::bigint) then
      if p_all_or_nothing then
        raise exception 'wrong expected version on stream %', v_stream
          using errcode = 'SA409',
                detail = json_build_object('index', a.ordinality - 1, 'streamId', v_stream, 'current', v_have)::text;
      end if;
      v_ok := v_ok || false;
      v_firsts := v_firsts || v_have; -- reported as the current version
      v_offsets := v_offsets || v_total;
      v_counts := v_counts || 0;
      continue;
    end if;
    v_ok := v_ok || true;
    v_count := jsonb_array_length(a.value -> 'events');
    v_firsts := v_firsts || (coalesce(v_have, -1) + 1);
    v_offsets := v_offsets || v_total;
    v_counts := v_counts || v_count;
    v_total := v_total + v_count;
    v_cur := jsonb_set(v_cur, array[v_stream], to_jsonb(coalesce(v_have, -1) + v_count));
  end loop;

  if v_total > 0 then
    -- Sequence inside this transaction: shared with append_to_stream (a transaction-local setting).
    v_seq := coalesce(nullif(current_setting('saga.position_seq', true), ''), '0')::integer;
    if v_seq + v_total > 65536 then
      raise exception 'more than 65536 events in one transaction' using errcode = '54000';
    end if;
    perform set_config('saga.position_seq', (v_seq + v_total)::text, true);
    v_base := (pg_current_xact_id()::text::bigint << 16) + v_seq;

    insert into events (global_position, event_id, stream_id, version, type, schema_version, data, metadata, tenant_id)
    select v_base + v_offsets[ap.ord] + ev.ord - 1,
           (ev.value ->> 'eventId')::uuid,
           ap.value ->> 'streamId',
           v_firsts[ap.ord] + ev.ord - 1,
           ev.value ->> 'type',
           coalesce((ev.value ->> 'schemaVersion')::integer, 1),
           ev.value -> 'data',
           coalesce(ev.value -> 'metadata', '{}'::jsonb),
           ap.value ->> 'tenantId'
      from jsonb_array_elements(p_appends) with ordinality as ap(value, ord),
           jsonb_array_elements(ap.value -> 'events') with ordinality as ev(value, ord)
     where v_ok[ap.ord];
  end if;

  return query
    select (i - 1)::integer,
           case when v_ok[i] then 'ok' else 'conflict' end,
           case when v_ok[i] then v_firsts[i] + v_counts[i] - 1 else v_firsts[i] end,
           case when v_ok[i] then v_firsts[i] end,
           case when v_ok[i] then v_base + v_offsets[i] + v_counts[i] - 1 end
      from generate_series(1, v_n) as i;
end
$$;
