import { randomUUID } from 'crypto';
import { EventStoreError, wrongExpectedVersion } from '../event-store.errors';
import { AppendOptions, AppendResult, EventMetadata, ExpectedVersion, NewEvent } from '../event-store.types';
import { pgConstraint, pgErrorCode, Queryable } from './queryable';

/** Expected versions as the SQL functions take them (`p_expected_kind`, an entry's `kind`). */
const KIND = { any: 0, no_stream: 1, stream_exists: 2, exact: 3 } as const;

/**
 * The expected-version rule, shared by both appends (`append_to_streams` in append-to-streams.ts
 * applies it per entry), and `append_to_stream`: a batch appended atomically in one round trip.
 *   p_expected_kind: KIND above; p_expected_version with kind 3 (exact).
 *   p_events: [{ "eventId", "type", "schemaVersion", "data", "metadata" }, ...]
 * Returns ('ok', last version, first version, last position) or ('conflict', actual version).
 * A concurrent writer that wins the race makes the insert fail on events_stream_version_uq (23505);
 * appendToStream maps that to WRONG_EXPECTED_VERSION (or to an idempotent replay, by event id).
 * It is not a one-entry `append_to_streams`: that would serve a single append too, but takes about
 * twice the time inside the database (measured: ~100 µs against ~50 µs for a one-event append),
 * and this is the path of every append inside a transaction and of every append made alone.
 * Subscribers are woken after the commit, never from here (see PostgresEventStore.notifyAppended).
 */
export const APPEND_TO_STREAM_SQL = `
create or replace function events_version_conflicts(p_kind smallint, p_expected bigint, p_current bigint) returns boolean
language sql immutable as $$
  select (p_kind = 1 and p_current is not null)
      or (p_kind = 2 and p_current is null)
      or (p_kind = 3 and coalesce(p_current, -1) <> p_expected)
$$;

create or replace function append_to_stream(
  p_stream_id text,
  p_tenant_id text,
  p_expected_kind smallint,
  p_expected_version bigint,
  p_events jsonb
) returns table (outcome text, current_version bigint, first_version bigint, last_position bigint)
language plpgsql volatile as $$
declare
  v_current bigint;
  v_count integer := jsonb_array_length(p_events);
  v_base bigint;
begin
  select max(e.version) into v_current from events e where e.stream_id = p_stream_id;
  if events_version_conflicts(p_expected_kind, p_expected_version, v_current) then
    return query select 'conflict'::text, v_current, null::bigint, null::bigint;
    return;
  end if;
  v_base := events_claim_positions(v_count);
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
  return query select 'ok'::text, coalesce(v_current, -1) + v_count, coalesce(v_current, -1) + 1, v_base + v_count - 1;
end
$$;
`;

// A named statement: parsed and planned once per connection, then only bound and executed.
const APPEND_SQL = 'select outcome, current_version, first_version, last_position from append_to_stream($1, $2, $3, $4, $5)';

export interface AppendSettings {
  /**
   * Inside a caller's transaction a unique violation would abort the whole transaction: a
   * savepoint keeps it usable for the idempotent-replay check and for the caller.
   */
  savepoint?: boolean;
  /**
   * Inside a caller's transaction without a savepoint: a unique violation has aborted the
   * transaction, so nothing more can be asked; it is reported as WRONG_EXPECTED_VERSION and the
   * caller retries the whole transaction.
   */
  abortedOnConflict?: boolean;
}

export const MAX_EVENTS_PER_APPEND = 1000;

/**
 * Appends `events` to `streamId` atomically, in one round trip (the `append_to_stream` SQL
 * function), enforcing the expected version. Appending again events whose ids are already stored
 * at the same place returns the original result and writes nothing.
 */
export async function appendToStream(
  db: Queryable,
  streamId: string,
  events: NewEvent[],
  options: AppendOptions,
  settings: AppendSettings = {},
): Promise<AppendResult> {
  const expected = options.expectedVersion ?? 'any';
  // Without ids from the caller the append cannot be a replay: conflicts skip that check.
  const callerIds = events.some((e) => e.eventId !== undefined);
  const payload = appendPayload(events, options, new Set<string>());
  const [kind, version] = expectedKind(expected);

  // `any` races only with itself: retry on the unique-index conflict until our insert wins.
  for (let attempt = 0; ; attempt++) {
    try {
      if (settings.savepoint) await db.query('savepoint saga_append');
      const { rows } = await db.query({
        name: 'saga_append_to_stream',
        text: APPEND_SQL,
        values: [streamId, options.tenantId, kind, version, JSON.stringify(payload)],
      });
      const row = rows[0];
      if (settings.savepoint) await db.query('release savepoint saga_append');
      if (row.outcome === 'ok') {
        return {
          streamId,
          firstVersion: row.first_version,
          nextExpectedVersion: row.current_version,
          globalPosition: row.last_position,
        };
      }
      const replay = callerIds ? await findIdempotentReplay(db, streamId, payload) : undefined;
      if (replay) return replay;
      throw wrongExpectedVersion(streamId, expected, row.current_version ?? -1);
    } catch (err) {
      if (pgErrorCode(err) !== '23505') throw err;
      if (settings.abortedOnConflict) throw wrongExpectedVersion(streamId, expected, -1);
      if (settings.savepoint) await db.query('rollback to savepoint saga_append');
      const replay = callerIds ? await findIdempotentReplay(db, streamId, payload) : undefined;
      if (replay) return replay;
      if (pgConstraint(err) === 'events_stream_version_uq') {
        if (kind === KIND.any && attempt < 20) continue;
        const actual = await currentVersion(db, streamId);
        throw wrongExpectedVersion(streamId, expected, actual);
      }
      throw err;
    }
  }
}

/** The events as `append_to_stream` takes them, validated; `ids` collects ids across appends. */
export function appendPayload(events: NewEvent[], options: AppendOptions, ids: Set<string>): PayloadEvent[] {
  if (events.length === 0 || events.length > MAX_EVENTS_PER_APPEND) {
    throw new EventStoreError('INVALID_APPEND', `an append takes 1 to ${MAX_EVENTS_PER_APPEND} events`);
  }
  const payload = events.map((e) => ({
    eventId: e.eventId ?? randomUUID(),
    type: e.type,
    schemaVersion: e.schemaVersion ?? 1,
    data: e.data ?? {},
    metadata: { ...options.metadata, ...e.metadata, tenantId: options.tenantId },
  }));
  for (const e of payload) {
    if (typeof e.type !== 'string' || e.type.length === 0) throw new EventStoreError('INVALID_APPEND', 'every event needs a type');
    if (ids.has(e.eventId)) throw new EventStoreError('INVALID_APPEND', `event id ${e.eventId} appears twice in one append`);
    ids.add(e.eventId);
  }
  return payload;
}

/** The SQL function's (kind, version) pair for an expected version. */
export function expectedKind(expected: ExpectedVersion): [number, number | null] {
  const [kind, version] =
    typeof expected === 'number' ? [KIND.exact, expected] : [KIND[expected as Exclude<ExpectedVersion, number>], null];
  if (kind === undefined) throw new EventStoreError('INVALID_APPEND', `unknown expected version ${String(expected)}`);
  return [kind, version];
}

async function currentVersion(db: Queryable, streamId: string): Promise<number> {
  const { rows } = await db.query('select max(version) as v from events where stream_id = $1', [streamId]);
  return rows[0]?.v ?? -1;
}

interface PayloadEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: Partial<EventMetadata>;
}

/**
 * After a conflict: are these exact events already stored, consecutively, in this stream? Then the
 * append is a retry of one that succeeded and its original result is returned. An id stored with
 * other content, or elsewhere, is DUPLICATE_EVENT_ID. Only runs on the (rare) conflict path.
 */
async function findIdempotentReplay(
  db: Queryable,
  streamId: string,
  payload: PayloadEvent[],
): Promise<AppendResult | undefined> {
  const ids = payload.map((p) => p.eventId);
  const { rows } = await db.query<{
    event_id: string;
    stream_id: string;
    version: number;
    global_position: number;
    type: string;
    same_data: boolean;
  }>(
    `select e.event_id, e.stream_id, e.version, e.global_position, e.type, e.data = p.data as same_data
       from jsonb_to_recordset($2::jsonb) as p(id uuid, data jsonb)
       join events e on e.event_id = p.id
      where e.event_id = any($1::uuid[])`,
    [ids, JSON.stringify(payload.map((p) => ({ id: p.eventId, data: p.data ?? {} })))],
  );
  if (rows.length === 0) return undefined;
  const byId = new Map(rows.map((r) => [r.event_id, r]));
  const first = byId.get(ids[0]);
  const consistent =
    rows.length === ids.length &&
    first !== undefined &&
    payload.every((p, i) => {
      const r = byId.get(p.eventId);
      return r && r.stream_id === streamId && r.version === first.version + i && r.type === p.type && r.same_data;
    });
  if (!consistent) {
    const clash = rows.find((r) => r.stream_id !== streamId) ?? rows[0];
    throw new EventStoreError(
      'DUPLICATE_EVENT_ID',
      `event id ${clash.event_id} is already stored with other content or at another place`,
      { eventId: clash.event_id, streamId: clash.stream_id, version: clash.version },
    );
  }
  const last = byId.get(ids[ids.length - 1])!;
  return {
    streamId,
    firstVersion: first.version,
    nextExpectedVersion: last.version,
    globalPosition: last.global_position,
  };
}
