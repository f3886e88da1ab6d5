// Repeatable migration (Flyway's R__ convention): the event store's functions, applied by the
// migrator after the numbered migrations and again whenever their text changes. They are defined
// once, in libs/event-store, each next to the TypeScript that calls it; see its postgres/schema.ts.
export { EVENT_STORE_SCHEMA as sql } from '@app/event-store';
