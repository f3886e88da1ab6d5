import { EventStoreError, wrongExpectedVersion } from '../event-store.errors';
import { AppendResult, StreamAppend } from '../event-store.types';
import { appendPayload, expectedKind } from './append-to-stream';
import { pgConstraint, pgErrorCode, Queryable } from './queryable';

/**
 * `append_to_streams`: several streams appended atomically in one statement (one round trip), each
 * with its own expected version: e.g. a worker committing the transitions of many sagas, with the
 * domain events of their steps, in one group commit.
 *
 * p_appends: [{ "streamId", "tenantId", "kind" (the KIND of append-to-stream.ts), "version" (kind 3),
 *               "events": [ same shape as append_to_stream's p_events ] }]
 * Entries are applied in order, so two entries may append to the same stream (the second one
 * expecting the version the first one leaves). Set-based: one version lookup per distinct stream,
 * a plan of one row per entry (`events_append_plan`: one array instead of one array per column),
 * then ONE insert of every event. Positions follow append_to_stream's rule
 * (events_claim_positions), in entry order.
 *
 * p_all_or_nothing (default): a version conflict in ANY entry raises SQLSTATE 'SA409' with the
 * entry (index, streamId, current version) as JSON in DETAIL, so the statement writes nothing.
 * Otherwise each entry stands alone (independent appends of different callers grouped into one
 * commit): a conflicting entry writes nothing and is returned with outcome 'conflict' and the
 * stream's current version; the others are written. (Either way, two transactions racing past the
 * check collide on events_stream_version_uq, as with append_to_stream.)
 * p_lock: streams to lock (lock_streams, see lock-streams.ts) before anything is read: a version
 * probe made after the lock sees the commit of whoever held it.
 */
export const APPEND_TO_STREAMS_SQL = `
-- Only plpgsql bodies use the type (no dependency recorded): it can be dropped and created again.
drop type if exists events_append_plan;
create type events_append_plan as (
  idx integer,            -- 0-based entry index
  ok boolean,             -- false: version conflict, nothing written
  version_before bigint,  -- the stream's version before the entry (null: no events yet)
  event_offset integer,   -- events of the earlier written entries (position offset)
  event_count integer     -- events written by this entry
);

create or replace function append_to_streams(p_appends jsonb, p_all_or_nothing boolean default true, p_lock text[] default null)
returns table (idx integer, outcome text, current_version bigint, first_version bigint, last_position bigint)
language plpgsql volatile as $$
declare
  v_heads jsonb;  -- stream id -> its version as the entries so far leave it (absent: no events)
  v_plan events_append_plan[] := '{}';
  v_total integer := 0;
  v_base bigint := 0;
  a record;
  v_stream text;
  v_have bigint;
  v_count integer;
begin
  if p_lock is not null then
    perform lock_streams(p_lock);
  end if;
  -- max(version) per stream: one backward index probe each (no scan of long streams).
  select coalesce(jsonb_object_agg(s.id, (select max(ev.version) from events ev where ev.stream_id = s.id)), '{}'::jsonb)
    into v_heads
    from (select distinct e.value ->> 'streamId' as id from jsonb_array_elements(p_appends) e) s;

  for a in select e.value, e.ord::integer - 1 as i from jsonb_array_elements(p_appends) with ordinality as e(value, ord) loop
    v_stream := a.value ->> 'streamId';
    v_have := (v_heads ->> v_stream)::bigint;
    if events_version_conflicts((a.value ->> 'kind')::smallint, (a.value ->> 'version')::bigint, v_have) then
      if p_all_or_nothing then
        raise exception 'wrong expected version on stream %', v_stream
          using errcode = 'SA409',
                detail = json_build_object('index', a.i, 'streamId', v_stream, 'current', v_have)::text;
      end if;
      v_plan := v_plan || row(a.i, false, v_have, v_total, 0)::events_append_plan;
      continue;
    end if;
    v_count := jsonb_array_length(a.value -> 'events');
    v_plan := v_plan || row(a.i, true, v_have, v_total, v_count)::events_append_plan;
    v_total := v_total + v_count;
    v_heads := jsonb_set(v_heads, array[v_stream], to_jsonb(coalesce(v_have, -1) + v_count));
  end loop;

  if v_total > 0 then
    v_base := events_claim_positions(v_total);
    -- Entries and their plan rows side by side (ROWS FROM zips them in order).
    insert into events (global_position, event_id, stream_id, version, type, schema_version, data, metadata, tenant_id)
    select v_base + ap.event_offset + ev.ord - 1,
           (ev.value ->> 'eventId')::uuid,
           ap.entry ->> 'streamId',
           coalesce(ap.version_before, -1) + ev.ord,
           ev.value ->> 'type',
           coalesce((ev.value ->> 'schemaVersion')::integer, 1),
           ev.value -> 'data',
           coalesce(ev.value -> 'metadata', '{}'::jsonb),
           ap.entry ->> 'tenantId'
      from rows from (jsonb_array_elements(p_appends), unnest(v_plan))
             as ap(entry, idx, ok, version_before, event_offset, event_count),
           jsonb_array_elements(ap.entry -> 'events') with ordinality as ev(value, ord)
     where ap.ok;
  end if;

  return query
    select p.idx,
           case when p.ok then 'ok' else 'conflict' end,
           case when p.ok then coalesce(p.version_before, -1) + p.event_count else p.version_before end,
           case when p.ok then coalesce(p.version_before, -1) + 1 end,
           case when p.ok then v_base + p.event_offset + p.event_count - 1 end
      from unnest(v_plan) as p;
end
$$;
`;

/** A row of the `append_to_streams` SQL function. */
interface StreamsAppendRow {
  idx: number;
  current_version: number;
  first_version: number;
  last_position: number;
}

/**
 * Writes of a caller's own, made in the same statement as a multi-stream append and after it, so
 * that both commit or fail together without a transaction: CTEs over the caller's tables (text that
 * goes after `with appended as (…),`), which may read the append's rows from `appended`
 * (idx, current_version, first_version, last_position). `values` are their parameters $1…$n; the
 * append's own parameters follow. `name` names the prepared statement (one text per name).
 */
export interface AlongsideWrites {
  name: string;
  ctes: string;
  values: unknown[];
}

export interface StreamsAppendSettings {
  /**
   * Inside a caller's transaction: a failure aborts it (no savepoint: callers roll back and retry
   * their members one by one), so a lost race is not retried here.
   */
  inTransaction: boolean;
  /** Streams locked (lock_streams) before any version is read. */
  lock?: string[];
  alongside?: AlongsideWrites;
}

/**
 * A multi-stream append made ready for the `append_to_streams(jsonb)` SQL function: `payload` is
 * its argument; `results` reads its rows; `error` turns a failure into the event store's errors.
 */
export interface StreamsAppendCall {
  payload: string;
  results(rows: StreamsAppendRow[]): AppendResult[];
  error(err: unknown): unknown;
}

export function streamsAppendCall(appends: StreamAppend[]): StreamsAppendCall {
  const ids = new Set<string>();
  const payload = appends.map((a) => {
    const [kind, version] = expectedKind(a.expectedVersion ?? 'any');
    return { streamId: a.streamId, tenantId: a.tenantId, kind, version, events: appendPayload(a.events, a, ids) };
  });
  return {
    payload: JSON.stringify(payload),
    results: (rows) =>
      rows.map((row) => ({
        streamId: appends[row.idx].streamId,
        firstVersion: row.first_version,
        nextExpectedVersion: row.current_version,
        globalPosition: row.last_position,
      })),
    error: (err) => {
      const code = pgErrorCode(err);
      if (code === 'SA409') {
        const detail = JSON.parse((err as { detail?: string }).detail ?? '{}') as { index?: number; current?: number | null };
        const a = appends[detail.index ?? 0];
        return wrongExpectedVersion(a.streamId, a.expectedVersion ?? 'any', detail.current ?? -1);
      }
      if (code === '23505' && pgConstraint(err) === 'events_stream_version_uq') {
        // A concurrent writer inserted the same version between our check and our insert.
        const streamId = /\(stream_id, version\)=\((.*), \d+\)/.exec((err as { detail?: string }).detail ?? '')?.[1];
        const a = appends.find((x) => x.streamId === streamId) ?? appends[0];
        return wrongExpectedVersion(a.streamId, a.expectedVersion ?? 'any', -1);
      }
      if (code === '23505' && pgConstraint(err) === 'events_event_id_uq') {
        return new EventStoreError('DUPLICATE_EVENT_ID', 'an event id of this append is already stored', {
          detail: (err as { detail?: string }).detail,
        });
      }
      return err;
    },
  };
}

const APPENDED_COLUMNS = 'idx, current_version, first_version, last_position';

/** The statement: the append alone, or first of a statement that carries the caller's writes. */
function appendStatement(payload: string, lock: string[] | null, alongside: AlongsideWrites | undefined) {
  if (!alongside) {
    return {
      name: 'saga_append_to_streams',
      text: `select ${APPENDED_COLUMNS} from append_to_streams($1::jsonb, true, $2::text[])`,
      values: [payload, lock],
    };
  }
  const n = alongside.values.length;
  return {
    name: alongside.name,
    text: `with appended as (select ${APPENDED_COLUMNS} from append_to_streams($${n + 1}::jsonb, true, $${n + 2}::text[])),
           ${alongside.ctes}
           select ${APPENDED_COLUMNS} from appended order by idx`,
    values: [...alongside.values, payload, lock],
  };
}

/**
 * Appends to several streams atomically in ONE statement (the `append_to_streams` SQL function),
 * each append with its own expected version; appends to the same stream apply in order. All or
 * nothing: a conflict on any stream throws WRONG_EXPECTED_VERSION naming that stream and writes
 * nothing (its `actualVersion` is the stream's version at that point of the call, i.e. after the
 * call's earlier entries to it). Unlike `appendToStream`, a conflict is not checked for an
 * idempotent replay: callers that re-send decisions fall back to single-stream appends (which
 * recognise replays) on conflict. With no appends nothing runs (no lock, no alongside writes).
 *
 * Two writers racing past the version check collide on the (stream, version) index. Outside a
 * transaction the statement is simply run again: `any` entries then succeed, exact ones report the
 * version that won. Inside a caller's transaction a lost race is reported with `actualVersion` -1
 * (unknown).
 */
export async function appendToStreams(db: Queryable, appends: StreamAppend[], settings: StreamsAppendSettings): Promise<AppendResult[]> {
  if (appends.length === 0) return [];
  const call = streamsAppendCall(appends);
  const statement = appendStatement(call.payload, settings.lock ?? null, settings.alongside);
  for (let attempt = 0; ; attempt++) {
    try {
      const { rows } = await db.query<StreamsAppendRow>(statement);
      return call.results(rows);
    } catch (err) {
      const raced = pgErrorCode(err) === '23505' && pgConstraint(err) === 'events_stream_version_uq';
      if (raced && !settings.inTransaction && attempt < 20) continue;
      throw call.error(err);
    }
  }
}
