/** Shared polling helpers (one implementation, in @app/database). */
export { waitFor, delay, WaitForOptions } from '@app/database';
