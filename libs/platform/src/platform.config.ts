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
  /** Database time limits (absent: the defaults of `DEFAULT_DB_TIMEOUTS`). */
  db?: Partial<DbTimeouts>;
  worker: {
    enabled: boolean;
    concurrency: number;
    pollIntervalMs: number;
    leaseMs: number;
  };
  projections: { enabled: boolean; batchSize: number };
  /** A module of the deployment's own in-process task handlers (see task-handlers-module.ts). */
  taskHandlersModule?: string;
  /** Absent: DEFAULT_AGENT_SETTINGS with the external runtime (tests that run no agents). */
  agents?: AgentSettings;
}

export interface AgentSettings {
  /** How often instances must heartbeat (UNHEALTHY after 3 silent intervals, OFFLINE after 6). */
  heartbeatIntervalMs: number;
  /** `local`: the worker runs instances of agent types the deployment maps to a command. */
  runtime: 'local' | 'external';
  /** The runtime's mapping of agent types to commands (absent: the built-in `example` type only). */
  runtimeConfigPath?: string;
  /** The API URL given to local instances. */
  apiUrl: string;
}

export const DEFAULT_AGENT_SETTINGS: AgentSettings = {
  heartbeatIntervalMs: 10_000,
  runtime: 'external',
  apiUrl: 'http://127.0.0.1:3000',
};

export function agentSettings(config: PlatformConfig): AgentSettings {
  return config.agents ?? DEFAULT_AGENT_SETTINGS;
}

/**
 * How long the platform waits on PostgreSQL. Requests must answer 503 within 5 s when the database
 * is silent, so the API's pool is strict; the worker's transactions (group commits, projection
 * batches, rebuild steps) do more per statement and get their own, longer limit.
 */
export interface DbTimeouts {
  /** A new connection, and a wait for a free pooled one. */
  connectTimeoutMs: number;
  /** Per statement on the API's pool (server-side `statement_timeout`, and a client-side read timeout). */
  statementTimeoutMs: number;
  /** Per statement on the worker's pool. */
  workerStatementTimeoutMs: number;
  /** A session left idle inside a transaction is ended by the server after this. */
  idleInTransactionTimeoutMs: number;
}

export const DEFAULT_DB_TIMEOUTS: DbTimeouts = {
  connectTimeoutMs: 2000,
  statementTimeoutMs: 3000,
  workerStatementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 60_000,
};

export const PLATFORM_CONFIG = Symbol('PLATFORM_CONFIG');
export const PG_POOL = Symbol('PG_POOL');
/** The worker's pool, event store and executor (the API's own where the process runs no worker). */
export const WORKER_PG_POOL = Symbol('WORKER_PG_POOL');
export const WORKER_EVENT_STORE = Symbol('WORKER_EVENT_STORE');
export const WORKER_SAGA_EXECUTOR = Symbol('WORKER_SAGA_EXECUTOR');
export const DOMAIN_COMMANDS = Symbol('DOMAIN_COMMANDS');
