import { PoolClient } from 'pg';
import { RecordedEvent } from '@app/event-store';
import { quoteIdent } from '@app/database';
import { Projection, ProjectionContext, ProjectionMode } from './projection';

export type Row = Record<string, unknown>;

export interface RowProjectionDefinition {
  name: string;
  table: string;
  /** Primary-key columns of `table`. */
  key: string[];
  eventTypes: string[];
  mode?: ProjectionMode;
  /** The rows (by primary key values) an event touches. */
  keys(event: RecordedEvent): Row[];
  /** The row after the event: a row to upsert, `null` to delete, `undefined` to leave it. */
  evolve(row: Row | undefined, event: RecordedEvent, key: Row): Row | null | undefined;
}

/**
 * A projection whose read model is one row per key, folded from events. Per batch it loads the
 * rows the batch touches in one query, folds every event in memory, and writes all changed rows
 * back with one upsert and one delete: a handful of statements per batch instead of one per event,
 * which is what makes rebuilds fast.
 */
export function defineRowProjection(def: RowProjectionDefinition): Projection {
  const table = new RowTable(def.table, def.key);
  const keyOf = (row: Row) => table.keyOf(row);
  return {
    name: def.name,
    tables: [def.table],
    eventTypes: def.eventTypes,
    mode: def.mode,
    async handle(events: RecordedEvent[], { tx }: ProjectionContext): Promise<void> {
      const touched = new Map<string, Row>();
      const perEvent: { event: RecordedEvent; keys: Row[] }[] = [];
      for (const event of events) {
        const keys = def.keys(event);
        perEvent.push({ event, keys });
        for (const k of keys) touched.set(keyOf(k), k);
      }
      if (touched.size === 0) return;
      const current = new Map<string, Row | null>();
      for (const r of await table.load(tx, [...touched.values()])) current.set(keyOf(r), r);
      const changed = new Set<string>();
      for (const { event, keys } of perEvent) {
        for (const k of keys) {
          const id = keyOf(k);
          const after = def.evolve(current.get(id) ?? undefined, event, k);
          if (after === undefined) continue;
          current.set(id, after === null ? null : { ...after, ...k });
          changed.add(id);
        }
      }
      const upserts: Row[] = [];
      const deletes: Row[] = [];
      for (const id of changed) {
        const row = current.get(id);
        if (row) upserts.push(row);
        else deletes.push(touched.get(id)!);
      }
      await table.delete(tx, deletes);
      await table.upsert(tx, upserts);
    },
  };
}

/**
 * Set-based access to a read-model table by primary key: load many rows, upsert many, delete
 * many, each in one statement (rows travel as one JSON array through jsonb_populate_recordset).
 * The table is resolved through search_path, so a rebuild (its own schema first) uses its copy.
 */
export class RowTable {
  private columns?: string[];
  private readonly name: string;
  private readonly keyCols: string;

  constructor(
    readonly table: string,
    readonly key: string[],
  ) {
    this.name = quoteIdent(table);
    this.keyCols = key.map(quoteIdent).join(', ');
  }

  keyOf(row: Row): string {
    return JSON.stringify(this.key.map((k) => row[k] ?? null));
  }

  private async cols(tx: PoolClient): Promise<string[]> {
    if (!this.columns) {
      const { rows } = await tx.query<{ attname: string }>(
        `select attname from pg_attribute where attrelid = to_regclass($1) and attnum > 0 and not attisdropped order by attnum`,
        [this.table],
      );
      if (!rows.length) throw new Error(`read-model table ${this.table} does not exist`);
      this.columns = rows.map((r) => r.attname);
    }
    return this.columns;
  }

  async load(tx: PoolClient, keys: Row[]): Promise<Row[]> {
    if (!keys.length) return [];
    const { rows } = await tx.query(
      `select t.* from ${this.name} t join jsonb_populate_recordset(null::${this.name}, $1::jsonb) k using (${this.keyCols})`,
      [JSON.stringify(keys)],
    );
    return rows;
  }

  async delete(tx: PoolClient, keys: Row[]): Promise<void> {
    if (!keys.length) return;
    await tx.query(
      `delete from ${this.name} t using jsonb_populate_recordset(null::${this.name}, $1::jsonb) k
        where ${this.key.map((c) => `t.${quoteIdent(c)} = k.${quoteIdent(c)}`).join(' and ')}`,
      [JSON.stringify(keys)],
    );
  }

  async upsert(tx: PoolClient, rows: Row[]): Promise<void> {
    if (!rows.length) return;
    const setList = (await this.cols(tx))
      .filter((c) => !this.key.includes(c))
      .map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`)
      .join(', ');
    await tx.query(
      `insert into ${this.name} select * from jsonb_populate_recordset(null::${this.name}, $1::jsonb)
       on conflict (${this.keyCols}) do ${setList ? `update set ${setList}` : 'nothing'}`,
      [JSON.stringify(rows)],
    );
  }
}
