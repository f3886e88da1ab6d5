/** Shared polling helpers (one implementation, in @app/database). */
export { waitFor, deferred, Deferred, WaitForOptions } from '@app/database';
