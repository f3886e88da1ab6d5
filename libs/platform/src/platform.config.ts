/** Settings of a running platform process, resolved once at start-up (see apps/api/src/main.ts). */
export interface PlatformConfig {
  databaseUrl: string;
  /** Absent: the in-memory bus (single process). */
  redisUrl?: string;
  /** Hash-compared on each request; absent means only stored keys work. */
  adminApiKey?: string;
  /** Embedded PGlite: one session, so one worker and polling. */
  embedded: boolean;
  poolSize: number;
  worker: {
    enabled: boolean;
    concurrency: number;
    pollIntervalMs: number;
    leaseMs: number;
  };
  projections: { enabled: boolean; batchSize: number };
}

export const PLATFORM_CONFIG = Symbol('PLATFORM_CONFIG');
export const PG_POOL = Symbol('PG_POOL');
export const DOMAIN_COMMANDS = Symbol('DOMAIN_COMMANDS');
