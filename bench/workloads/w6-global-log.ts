import { Pool } from 'pg';
import { dumbo } from '@event-driven-io/dumbo';
import { getPostgreSQLEventStore, readMessagesBatch } from '@event-driven-io/emmett-postgresql';
import { PostgresEventStore } from '@app/event-store';
import { ProjectionRunner, defineRowProjection } from '@app/projections';
import { BenchEventData, PAYLOAD_BYTES, TENANT } from '../harness/payload';
import { round } from '../harness/stats';
import { Metrics, Workload, WorkloadContext } from '../harness/types';
import { openMigratedPool } from '../systems/our-database';

/**
 * W6: catch up the global log from position 0 over 1,000,000 events (100,000 streams × 10 events of
 * ≈100-byte JSON, the payload of W1–W5), and rebuild one projection from zero.
 *
 * Fill (reported separately, not part of any figure): each system's OWN append function, called by
 * the server over generate_series, 6,000 streams (60,000 events) per statement — our
 * `append_to_stream` (the function PostgresEventStore.appendToStream calls) and Emmett's
 * `emt_append_to_stream` (what its appendToStream calls), with the arguments their clients pass:
 * the rows are those appends write (one transaction per statement instead of one per stream).
 *
 * (a) ours: PostgresEventStore.readAll({ after, limit }) pages from 0 until the head.
 * (b) emmett: readMessagesBatch({ after, batchSize }) — the reader under its consumers / batch
 *     puller (without the puller's sleep between batches) — pages from 0 until the head.
 *     Same page size for both (PAGE).
 * (c) ours: ProjectionRunner.rebuild(name) of a defineRowProjection that folds every event into a
 *     per-stream row (event count, amount total, last version), timed from the request to the swap.
 *     Emmett has no counterpart in this workload (its rebuild is a consumer from BEGINNING).
 */

const EVENTS_PER_STREAM = 10;
const STREAMS_PER_STATEMENT = 6_000; // 60,000 events: below our 65,536 events per transaction
const PAGE = 1_000;
const PROJECTION = 'w6-stream-counts';

/** One event's data in SQL, equal to benchEvent(i) of harness/payload.ts (i = s * 10 + k). */
const EVENT_DATA_SQL = `jsonb_build_object(
    'orderId', gen_random_uuid(),
    'amount', ((s::bigint * ${EVENTS_PER_STREAM} + k) * 7919) % 10000,
    'currency', 'EUR',
    'sku', 'SKU-' || lpad(((s::bigint * ${EVENTS_PER_STREAM} + k) % 1000000)::text, 6, '0'),
    'qty', ((s::bigint * ${EVENTS_PER_STREAM} + k) % 9) + 1)`;

const OURS_FILL_SQL = `
  select count(*)::int as n
    from generate_series($1::int, $2::int) s
    cross join lateral append_to_stream(
      'order-' || s, $3::text, 1::smallint, null::bigint,
      (select jsonb_agg(jsonb_build_object(
                'eventId', gen_random_uuid(), 'type', 'OrderLinePriced', 'schemaVersion', 1,
                'data', ${EVENT_DATA_SQL},
                'metadata', jsonb_build_object('tenantId', $3::text)) order by k)
         from generate_series(0, ${EVENTS_PER_STREAM - 1}) k)) a
   where a.outcome = 'ok'`;

// As Emmett's appendToStream (STREAM_DOES_NOT_EXIST) calls it: uuid v4 ids, metadata {} (the
// caller's metadata without messageId), schema version '1', kind 'E', stream type = the stream
// name's first part, the default partition.
const EMMETT_FILL_SQL = `
  select count(*)::int as n
    from generate_series($1::int, $2::int) s
    cross join lateral emt_append_to_stream(
      array(select gen_random_uuid()::text from generate_series(0, ${EVENTS_PER_STREAM - 1}) k),
      array(select ${EVENT_DATA_SQL} from generate_series(0, ${EVENTS_PER_STREAM - 1}) k order by k),
      array_fill('{}'::jsonb, array[${EVENTS_PER_STREAM}]),
      array_fill('1'::text, array[${EVENTS_PER_STREAM}]),
      array_fill('OrderLinePriced'::text, array[${EVENTS_PER_STREAM}]),
      array_fill('E'::text, array[${EVENTS_PER_STREAM}]),
      'order-' || s, 'order', null::bigint, 'emt:default') a
   where a.success`;

async function fill(ctx: WorkloadContext, pool: Pool, sql: string, streams: number, tenant?: string): Promise<number> {
  ctx.phase(`fill ${(streams * EVENTS_PER_STREAM).toLocaleString('en-US')} events`);
  const started = performance.now();
  for (let from = 0; from < streams; from += STREAMS_PER_STATEMENT) {
    const to = Math.min(streams, from + STREAMS_PER_STATEMENT) - 1;
    const { rows } = await pool.query(sql, tenant === undefined ? [from, to] : [from, to, tenant]);
    if (rows[0].n !== to - from + 1) throw new Error(`W6 fill: ${rows[0].n} of ${to - from + 1} appends succeeded`);
    ctx.progress.update((to + 1) * EVENTS_PER_STREAM, streams * EVENTS_PER_STREAM);
  }
  return performance.now() - started;
}

const perSec = (events: number, ms: number) => round((events / ms) * 1000);

async function runOurs(ctx: WorkloadContext, streams: number): Promise<Metrics> {
  const total = streams * EVENTS_PER_STREAM;
  ctx.phase('creating database');
  const url = await ctx.createDatabase();
  const pool = await openMigratedPool(url, ctx.poolSize);
  ctx.onCleanup(() => pool.end());
  const store = new PostgresEventStore(pool, { notify: true });
  await pool.query(`create table w6_stream_counts (
    stream_id text primary key, events bigint not null, amount_total bigint not null, last_version bigint not null)`);

  const fillMs = await fill(ctx, pool, OURS_FILL_SQL, streams, TENANT);
  ctx.phase('vacuum analyze');
  await pool.query('vacuum analyze events');

  // (a) catch-up from 0.
  ctx.phase('catch-up (readAll)');
  let read = 0;
  let after = 0;
  let started = performance.now();
  for (;;) {
    const page = await store.readAll({ after, limit: PAGE });
    if (page.events.length === 0) break;
    read += page.events.length;
    after = page.lastPosition;
    ctx.progress.update(read, total);
  }
  const catchUpMs = performance.now() - started;
  if (read !== total) throw new Error(`W6 ours: read ${read} events, expected ${total}`);

  // (c) rebuild from zero. The checkpoint starts at the head, so the runner is LIVE at once and the
  // only pass over the log is the rebuild.
  ctx.phase('projection rebuild');
  const projection = defineRowProjection({
    name: PROJECTION,
    table: 'w6_stream_counts',
    key: ['stream_id'],
    eventTypes: ['OrderLinePriced'],
    keys: (e) => [{ stream_id: e.streamId }],
    evolve: (row, e) => ({
      events: Number(row?.events ?? 0) + 1,
      amount_total: Number(row?.amount_total ?? 0) + (e.data as BenchEventData).amount,
      last_version: e.version,
    }),
  });
  await pool.query(`insert into projection_checkpoints (name, position, status) values ($1, $2, 'LIVE')`, [PROJECTION, after]);
  let runnerError: string | undefined;
  const runner = new ProjectionRunner(pool, store, [projection], {
    listen: false,
    pollIntervalMs: 50,
    log: (message, fields) => {
      if (/failed/.test(message)) runnerError = `${message} ${JSON.stringify(fields)}`;
    },
  });
  ctx.onCleanup(() => runner.stop());
  await runner.start();
  started = performance.now();
  if (!(await runner.rebuild(PROJECTION))) throw new Error('W6: rebuild request refused');
  const limit = Date.now() + (ctx.quick ? 60_000 : 900_000);
  for (;;) {
    const { rows } = await pool.query(
      'select rebuild_requested, rebuilt_at, rebuild_position from projection_checkpoints where name = $1',
      [PROJECTION],
    );
    if (!rows[0].rebuild_requested && rows[0].rebuilt_at) break;
    if (runnerError) throw new Error(`W6 rebuild: ${runnerError}`);
    if (Date.now() > limit) throw new Error('W6: rebuild did not finish in time');
    await new Promise((r) => setTimeout(r, 20));
  }
  const rebuildMs = performance.now() - started;
  await runner.stop();
  const { rows } = await pool.query('select count(*)::int as streams, sum(events)::bigint as events from w6_stream_counts');
  if (rows[0].streams !== streams || Number(rows[0].events) !== total) {
    throw new Error(`W6 rebuild: ${rows[0].streams} streams / ${rows[0].events} events in the read model, expected ${streams} / ${total}`);
  }

  return {
    catchUpEventsPerSec: perSec(total, catchUpMs),
    rebuildEventsPerSec: perSec(total, rebuildMs),
    fillSec: round(fillMs / 1000),
    events: total,
    streams,
    page: PAGE,
    catchUpMs: round(catchUpMs),
    rebuildMs: round(rebuildMs),
    rebuildBatch: 5000,
    payloadBytes: PAYLOAD_BYTES,
  };
}

async function runEmmett(ctx: WorkloadContext, streams: number): Promise<Metrics> {
  const total = streams * EVENTS_PER_STREAM;
  ctx.phase('creating database');
  const url = await ctx.createDatabase();
  const pool = new Pool({ connectionString: url, max: ctx.poolSize });
  pool.on('error', (err) => process.emitWarning(`emmett pool: idle client error: ${err.message}`));
  ctx.onCleanup(() => pool.end());
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  ctx.onCleanup(() => store.close());
  await store.schema.migrate();
  const db = dumbo({ connectionString: url, pool });

  const fillMs = await fill(ctx, pool, EMMETT_FILL_SQL, streams);
  ctx.phase('vacuum analyze');
  await pool.query('vacuum analyze emt_messages');

  // Emmett's messages table has no index on global_position / transaction_id: every page is a
  // scan of the whole table (0.2–0.6 s per page at 1,000,000 events on the shared 2-core machine,
  // 3.5 minutes or more for the whole log). The catch-up therefore stops after a cap and the rate is
  // that of the pages read (flagged catchUpComplete: false). Each page costs a full scan wherever it
  // starts, so the rate hardly depends on how far it got (later pages sort fewer rows: slightly
  // faster). BENCH_W6_EMMETT_CAP_S=0 reads the whole log.
  const capS = Number(process.env.BENCH_W6_EMMETT_CAP_S ?? 300);
  const capMs = capS > 0 ? capS * 1000 : Infinity;
  ctx.phase('catch-up (readMessagesBatch)');
  let read = 0;
  let after = 0n;
  const started = performance.now();
  for (;;) {
    const batch = await readMessagesBatch(db.execute, { after, batchSize: PAGE });
    if (batch.messages.length === 0) break;
    read += batch.messages.length;
    after = batch.currentGlobalPosition;
    ctx.progress.update(read, total);
    if (performance.now() - started > capMs) break;
  }
  const catchUpMs = performance.now() - started;
  const complete = read === total;
  if (!complete && performance.now() - started <= capMs) throw new Error(`W6 emmett: read ${read} events, expected ${total}`);
  if (!complete) ctx.log(`catch-up stopped after ${capS} s at ${read} of ${total} events (BENCH_W6_EMMETT_CAP_S)`);
  return {
    catchUpEventsPerSec: perSec(read, catchUpMs),
    fillSec: round(fillMs / 1000),
    events: total,
    streams,
    page: PAGE,
    catchUpMs: round(catchUpMs),
    catchUpEventsRead: read,
    catchUpComplete: complete,
    payloadBytes: PAYLOAD_BYTES,
  };
}

export const w6: Workload = {
  id: 'W6',
  title: 'catch up the global log from 0 over 1,000,000 events; rebuild one projection',
  systems: ['ours', 'emmett'],
  figures: [
    { key: 'catchUpEventsPerSec', label: 'global-log catch-up', unit: 'ev/s', better: 'higher' },
    { key: 'rebuildEventsPerSec', label: 'projection rebuild', unit: 'ev/s', better: 'higher' },
    { key: 'fillSec', label: 'fill (not timed in the figures)', unit: 's', better: 'info' },
  ],
  targets: [{ figure: 'rebuildEventsPerSec', kind: 'absolute', op: '>=', value: 30_000, note: 'ours, events/s' }],
  async run(ctx) {
    const streams = Math.max(1, Math.round(ctx.size(1_000_000) / EVENTS_PER_STREAM));
    if (ctx.system === 'ours') return runOurs(ctx, streams);
    if (ctx.system === 'emmett') return runEmmett(ctx, streams);
    throw new Error(`W6: no global-log reader for ${ctx.system}`);
  },
};
