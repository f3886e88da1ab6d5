export { DEFAULT_DATABASE_URL, databaseUrlFromEnv, withDatabase, databaseName } from './database.config';
export { createPool, CreatePoolOptions } from './pool';
export { ensureDatabase, quoteIdent } from './ensure-database';
export { migrate, loadMigrations, defaultMigrationsDir, Migration, MigrationResult } from './migrator';
export { createKysely, Database } from './database';
export * from './tables/events.table';
export { createTestDatabase, TestDatabase } from './testing/test-database';
export { startEmbeddedPostgres, EmbeddedPostgres } from './embedded';
export { embeddedClientClass } from './embedded-client';
