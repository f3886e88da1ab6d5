import { Client } from 'pg';
import { quoteIdent, withDatabase } from '@app/database';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `sorry, too many clients already`: the shared server is full, which says nothing about a system. */
export function isTooManyClients(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === '53300';
}

export interface DatabaseStats {
  commits: number;
  rollbacks: number;
}

/**
 * Creates the run's fresh databases on the benchmark server and drops them all at the end
 * (also on Ctrl-C). Names: `bench_<system>_<workload>_<run stamp>`.
 */
export class DatabaseManager {
  private readonly created: string[] = [];
  /** Every name handed out in this run: a second database of a (system, workload) gets `_2`. */
  private readonly used = new Set<string>();
  readonly stamp = Date.now().toString(36);

  constructor(
    readonly serverUrl: string,
    private readonly keep = false,
  ) {}

  /** A connected client on the server's `postgres` database; waits out a full server (53300). */
  private async admin(): Promise<Client> {
    for (let attempt = 1; ; attempt++) {
      const client = new Client({ connectionString: withDatabase(this.serverUrl, 'postgres') });
      try {
        await client.connect();
        return client;
      } catch (err) {
        await client.end().catch(() => undefined);
        if (!isTooManyClients(err) || attempt >= 60) throw err;
        await sleep(1000);
      }
    }
  }

  async create(parts: string[]): Promise<string> {
    const base = ['bench', ...parts, this.stamp]
      .join('_')
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 58);
    let name = base;
    for (let n = 2; this.used.has(name); n++) name = `${base}_${n}`;
    this.used.add(name);
    const client = await this.admin();
    try {
      await client.query(`create database ${quoteIdent(name)}`);
    } finally {
      await client.end();
    }
    this.created.push(name);
    return withDatabase(this.serverUrl, name);
  }

  /** ANALYZE every database created and not yet dropped. */
  async analyzeAll(): Promise<void> {
    for (const name of this.created) {
      const client = new Client({ connectionString: withDatabase(this.serverUrl, name) });
      await client.connect();
      try {
        await client.query('analyze');
      } finally {
        await client.end();
      }
    }
  }

  /**
   * Drops every database created so far; returns the server's transaction counts for them
   * (pg_stat_database: rollbacks include every statement that failed, e.g. unique violations).
   */
  async dropAll(): Promise<DatabaseStats> {
    const stats: DatabaseStats = { commits: 0, rollbacks: 0 };
    if (this.keep) return stats;
    const client = await this.admin();
    try {
      while (this.created.length) {
        const name = this.created.pop()!;
        // pg's Pool.end() resolves before the server has seen every session close: wait for them
        // (up to 3 s) so that WITH (FORCE) only ends sessions a failed workload left open.
        for (let i = 0; i < 30; i++) {
          const { rows } = await client.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
          if (rows[0].n === 0) break;
          await sleep(100);
        }
        const { rows } = await client.query<{ c: number; r: number }>(
          'select xact_commit::float8 as c, xact_rollback::float8 as r from pg_stat_database where datname = $1',
          [name],
        );
        stats.commits += rows[0]?.c ?? 0;
        stats.rollbacks += rows[0]?.r ?? 0;
        await client.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      }
    } finally {
      await client.end();
    }
    return stats;
  }

  async serverInfo(): Promise<{ version: string; settings: Record<string, string> }> {
    const client = await this.admin();
    try {
      const v = await client.query<{ server_version: string }>('show server_version');
      const s = await client.query<{ name: string; setting: string }>(
        `select name, setting from pg_settings
          where name in ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections', 'jit')`,
      );
      return {
        version: `PostgreSQL ${v.rows[0].server_version}`,
        settings: Object.fromEntries(s.rows.map((r) => [r.name, r.setting])),
      };
    } finally {
      await client.end();
    }
  }
}
