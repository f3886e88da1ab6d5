import { APPEND_TO_STREAM_SQL } from './append-to-stream';
import { APPEND_TO_STREAMS_SQL } from './append-to-streams';
import { GAP_SAFETY_SQL } from './gap-safety';
import { LOCK_STREAMS_SQL } from './lock-streams';
import { READ_ALL_SQL } from './read-all';

/**
 * Every function of the event store, as one repeatable migration: `migrations/R__event_store.ts`
 * hands it to the migrator, which applies it after the versioned migrations and again whenever
 * its text changes (Flyway's R__ files; its checksum is kept in `schema_repeatables`).
 *
 * Why repeatable rather than a new versioned migration redefining the functions: with a versioned
 * one, every change of a function is a new file holding a full copy of it, so its text lives in
 * two places again (the file that calls it here, and the latest migration) and the history of one
 * function is spread over migrations. Repeatable, each function is defined once, next to the
 * TypeScript that calls it, and a change is an edit of that file. The tables stay in the versioned
 * migrations (their changes need ordered, one-time steps); migrations 001 and 005 still create the
 * first versions of these functions on a fresh database, which this then replaces.
 *
 * Every statement is idempotent (`create or replace`), and runs in one transaction. A function
 * whose arguments or result change must be dropped first under its old signature (below), or
 * PostgreSQL keeps both. During a rolling upgrade, processes of the previous version keep calling
 * the signatures they know: deploy a signature change when they are gone.
 */
/**
 * Signatures the previous release calls, kept as thin wrappers for ONE release so that a rolling
 * upgrade (the migration Job runs before the old pods are gone) never fails an append:
 * append_to_stream lost the p_notify flag that every caller set to false. Drop this in the next
 * release (`drop function if exists append_to_stream(text, text, smallint, bigint, jsonb, boolean)`).
 */
const PREVIOUS_RELEASE_SQL = `
create or replace function append_to_stream(
  p_stream_id text, p_tenant_id text, p_expected_kind smallint, p_expected_version bigint, p_events jsonb, p_notify boolean
) returns table (outcome text, current_version bigint, first_version bigint, last_position bigint)
language sql volatile as $$
  select * from append_to_stream(p_stream_id, p_tenant_id, p_expected_kind, p_expected_version, p_events)
$$;
`;

export const EVENT_STORE_SCHEMA = [
  GAP_SAFETY_SQL,
  READ_ALL_SQL,
  APPEND_TO_STREAM_SQL,
  LOCK_STREAMS_SQL,
  APPEND_TO_STREAMS_SQL,
  PREVIOUS_RELEASE_SQL,
].join('\n');
