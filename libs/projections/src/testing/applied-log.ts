import { Pool } from 'pg';
import { EventStore, PostgresEventStore, Queryable, RecordedEvent } from '@app/event-store';
import { Projection } from '../projection';
import { listProjectionStatus } from '../projection-status';
import { delay } from './wait-for';

/**
 * Every applied event is logged in `applied_events`, deliberately WITHOUT a unique key: applying an
 * event twice does not fail, it leaves two rows, which the specs count. `instance` tells which
 * runner (process) applied it.
 */
export const APPLIED_EVENTS_DDL = `
  create table applied_events (
    projection      text        not null,
    event_id        uuid        not null,
    global_position bigint      not null,
    instance        text        not null,
    applied_at      timestamptz not null default clock_timestamp()
  )`;

export const TICK = 'Tick';

export interface AppliedLogOptions {
  name: string;
  instance: string;
  eventTypes?: string[];
  /** Artificial per-batch delay, spent INSIDE the batch transaction after the rows are written. */
  delayMs?: number;
  /** Called inside the transaction, after the rows are written and before the delay. */
  onBatch?: (events: RecordedEvent[]) => void;
}

export function appliedLogProjection(options: AppliedLogOptions): Projection {
  return {
    name: options.name,
    tables: ['applied_events'],
    eventTypes: options.eventTypes ?? [TICK],
    async handle(events, { tx }) {
      await tx.query(
        `insert into applied_events (projection, event_id, global_position, instance)
         select $1, e.id, e.pos, $2 from unnest($3::uuid[], $4::bigint[]) as e(id, pos)`,
        [options.name, options.instance, events.map((e) => e.eventId), events.map((e) => e.globalPosition)],
      );
      options.onBatch?.(events);
      if (options.delayMs) await delay(options.delayMs);
    },
  };
}

/**
 * Appends `ticks` Tick events over `streams` streams, with one `Other` event (a type the
 * projections skip, but the checkpoint passes) after every `otherEvery` ticks.
 */
export async function appendTicks(
  store: EventStore,
  ticks: number,
  { streams = 10, perAppend = 100, otherEvery = 10, prefix = 'tick' } = {},
): Promise<void> {
  let n = 0;
  let call = 0;
  while (n < ticks) {
    const events: { type: string; data: unknown }[] = [];
    while (events.length < perAppend && n < ticks) {
      events.push({ type: TICK, data: { n } });
      n++;
      if (n % otherEvery === 0) events.push({ type: 'Other', data: { n } });
    }
    await store.appendToStream(`${prefix}-${call % streams}`, events, { tenantId: 't1' });
    call++;
  }
}

export interface LogCheck {
  rows: number;
  distinct: number;
  /** Events applied more than once. */
  duplicates: number;
  /** Tick events at or before `upTo` that were never applied. */
  missing: number;
  /** Applied events after `upTo` (must be none when `upTo` is the checkpoint). */
  beyond: number;
  instances: string[];
}

/** Compares the applied log of `projection` with the Tick events of the log up to `upTo`. */
export async function checkAppliedLog(db: Queryable, projection: string, upTo: number): Promise<LogCheck> {
  const { rows } = await db.query(
    `with log as (select * from applied_events where projection = $1)
     select (select count(*) from log)::int as rows,
            (select count(distinct event_id) from log)::int as distinct,
            (select count(*) from (select event_id from log group by event_id having count(*) > 1) d)::int as duplicates,
            (select count(*) from events e
              where e.type = $3 and e.global_position <= $2
                and not exists (select 1 from log l where l.event_id = e.event_id))::int as missing,
            (select count(*) from log where global_position > $2)::int as beyond,
            (select coalesce(array_agg(distinct instance order by instance), '{}') from log) as instances`,
    [projection, upTo, TICK],
  );
  return rows[0];
}

export async function checkpointOf(db: Queryable, name: string): Promise<{ position: number; status: string }> {
  const { rows } = await db.query('select position, status from projection_checkpoints where name = $1', [name]);
  return rows[0] ?? { position: -1, status: 'MISSING' };
}

/** Global position of the last event of the log. */
export async function headPosition(pool: Pool): Promise<number> {
  const { rows } = await pool.query('select coalesce(max(global_position), 0) as head from events');
  return Number(rows[0].head);
}

/**
 * LIVE, lag 0 AND on the last committed event. (Lag alone is not enough: it only counts events
 * below the safe position, which a long transaction anywhere on the server holds back.)
 */
export async function isCaughtUp(pool: Pool, name: string): Promise<boolean> {
  const [status] = await listProjectionStatus(new PostgresEventStore(pool), [name]);
  return status?.status === 'LIVE' && status.lag === 0 && status.position === (await headPosition(pool));
}
