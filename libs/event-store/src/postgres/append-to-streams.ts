import { EventStoreError, wrongExpectedVersion } from '../event-store.errors';
import { AppendResult, StreamAppend } from '../event-store.types';
import { appendPayload, expectedKind } from './append-to-stream';
import { pgConstraint, pgErrorCode, Queryable } from './queryable';

/** A row of the `append_to_streams` SQL function. */
export interface StreamsAppendRow {
  idx: number;
  current_version: number;
  first_version: number;
  last_position: number;
}

/**
 * A multi-stream append made ready for the `append_to_streams(jsonb)` SQL function: `payload` is
 * its argument; `results` reads its rows; `error` turns a failure into the event store's errors.
 * For callers that compose the call into a statement of their own (e.g. the saga executor's group
 * commit, which changes its pending-work rows in the same statement).
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

/**
 * Appends to several streams atomically in ONE statement (the `append_to_streams` SQL function),
 * each append with its own expected version; appends to the same stream apply in order. All or
 * nothing: a conflict on any stream throws WRONG_EXPECTED_VERSION naming that stream and writes
 * nothing (its `actualVersion` is the stream's version at that point of the call, i.e. after the
 * call's earlier entries to it). Unlike `appendToStream`, a conflict is not checked for an
 * idempotent replay: callers that re-send decisions fall back to single-stream appends (which
 * recognise replays) on conflict.
 *
 * Two writers racing past the version check collide on the (stream, version) index. Outside a
 * transaction (`inTransaction: false`) the statement is simply run again: `any` entries then
 * succeed, exact ones report the version that won. Inside a caller's transaction a failure aborts
 * that transaction (no savepoint: the group-commit callers roll back and retry their members one by
 * one), and a lost race is reported with `actualVersion` -1 (unknown).
 */
export async function appendToStreams(db: Queryable, appends: StreamAppend[], inTransaction: boolean): Promise<AppendResult[]> {
  if (appends.length === 0) return [];
  const call = streamsAppendCall(appends);
  for (let attempt = 0; ; attempt++) {
    try {
      const { rows } = await db.query<StreamsAppendRow>({
        name: 'saga_append_to_streams',
        text: 'select idx, current_version, first_version, last_position from append_to_streams($1)',
        values: [call.payload],
      });
      return call.results(rows);
    } catch (err) {
      const raced = pgErrorCode(err) === '23505' && pgConstraint(err) === 'events_stream_version_uq';
      if (raced && !inTransaction && attempt < 20) continue;
      throw call.error(err);
    }
  }
}
