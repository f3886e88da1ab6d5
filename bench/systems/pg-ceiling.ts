import { randomUUID } from 'crypto';
import { Pool, QueryConfig } from 'pg';
import { numericTypes } from '../harness/pg-types';
import { BenchEvent, TENANT } from '../harness/payload';
import { EventStoreAdapter } from './adapter';

/**
 * The ceiling: the same rows written by a bare node-postgres client, one plain INSERT per append
 * (autocommit, one round trip), into a table with our events table's columns and only a unique
 * (stream_id, version) index besides the primary key. The expected version is checked by nothing
 * but that index (an insert at a taken version fails), which is the least any store can do.
 */
const SCHEMA = `
  create table events (
    global_position bigserial   primary key,
    event_id        uuid        not null,
    stream_id       text        not null,
    version         bigint      not null,
    type            text        not null,
    schema_version  integer     not null default 1,
    data            jsonb       not null,
    metadata        jsonb       not null default '{}'::jsonb,
    tenant_id       text        not null,
    recorded_at     timestamptz not null default now()
  );
  create unique index events_stream_version_uq on events (stream_id, version);
`;

const COLUMNS = 7;
const insertTexts = new Map<number, string>();

function insertText(rows: number): string {
  let text = insertTexts.get(rows);
  if (!text) {
    const values = Array.from({ length: rows }, (_, r) => {
      const b = r * COLUMNS;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`;
    });
    text = `insert into events (event_id, stream_id, version, type, data, metadata, tenant_id) values ${values.join(', ')}`;
    insertTexts.set(rows, text);
  }
  return text;
}

export async function openPgCeiling(url: string, poolSize: number): Promise<EventStoreAdapter> {
  const pool = new Pool({ connectionString: url, max: poolSize, types: numericTypes });
  pool.on('error', (err) => process.emitWarning(`pg pool: idle client error: ${err.message}`));
  try {
    await pool.query(SCHEMA);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const metadata = JSON.stringify({ tenantId: TENANT });

  // pool.query() destroys the connection whenever a statement fails (pg-pool releases the client
  // with the error), so every unique violation would cost a reconnect, a new backend and
  // re-prepared statements. A failed autocommit statement leaves the session healthy: check out,
  // query, release without the error (pg-pool still drops a client whose connection broke).
  const query = async (config: QueryConfig) => {
    const client = await pool.connect();
    try {
      return await client.query(config);
    } finally {
      client.release();
    }
  };

  const insert = async (streamId: string, events: BenchEvent[], firstVersion: number) => {
    const values: unknown[] = [];
    events.forEach((e, k) => {
      values.push(randomUUID(), streamId, firstVersion + k, e.type, JSON.stringify(e.data), metadata, TENANT);
    });
    await query({ name: `ceiling_insert_${events.length}`, text: insertText(events.length), values });
  };

  return {
    system: 'pg',
    appendNew: (streamId, events) => insert(streamId, events, 0),
    async appendExpected(streamId, events, expectedVersion) {
      try {
        await insert(streamId, events, expectedVersion + 1);
        return expectedVersion + events.length;
      } catch (err) {
        if ((err as { code?: string }).code === '23505') return 'conflict';
        throw err;
      }
    },
    async readAfter(streamId, afterVersion) {
      const { rows } = await query({
        name: 'ceiling_read_after',
        text: 'select version, data from events where stream_id = $1 and version > $2 order by version',
        values: [streamId, afterVersion],
      });
      return rows.length ? rows[rows.length - 1].version : afterVersion;
    },
    async readWhole(streamId) {
      const { rows } = await query({
        name: 'ceiling_read_stream',
        text: `select global_position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at
                 from events where stream_id = $1 order by version`,
        values: [streamId],
      });
      return rows;
    },
    async close() {
      await pool.end();
    },
  };
}
