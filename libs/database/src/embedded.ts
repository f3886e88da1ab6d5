import { mkdirSync } from 'fs';
import { join, resolve } from 'path';
import { lockDataDir } from './data-dir-lock';

export interface EmbeddedPostgres {
  url: string;
  /** The absolute directory holding the data (locked by this process while it runs). */
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) with its data under `dataDir`, served
 * on a local TCP port by pglite-socket, so the platform uses the very same `pg` code path as
 * against a real server. PGlite multiplexes all connections onto one session (transactions are
 * serialised): the platform stays correct there with polling alone and one worker.
 */
export async function startEmbeddedPostgres(options: { dataDir?: string; port?: number; maxConnections?: number } = {}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir ?? join(process.cwd(), '.data', 'pglite'));
  mkdirSync(dataDir, { recursive: true });
  // Before PGlite opens anything: two instances writing one directory corrupt it.
  const lock = lockDataDir(dataDir);
  try {
    // ESM-only packages: loaded lazily so that nothing pays for them unless the embedded mode runs.
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const db = await PGlite.create({ dataDir });
    const server = new PGLiteSocketServer({
      db,
      host: '127.0.0.1',
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? 16,
    });
    await server.start();
    const address = (server as unknown as { server?: { address(): { port: number } } }).server?.address();
    const port = address?.port ?? options.port;
    if (!port) throw new Error('embedded PostgreSQL: could not learn the listening port');
    let stopped: Promise<void> | undefined;
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      dataDir,
      stop() {
        stopped ??= (async () => {
          try {
            await server.stop();
            await db.close();
          } finally {
            lock.release();
          }
        })();
        return stopped;
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
