/* Tests are quiet by default, as pino is under NODE_ENV=test: Nest's built-in console logger
 * (used by providers built outside an app, e.g. a WorkerLifecycle in an integration spec) writes
 * nothing unless a test installs a logger of its own with app.useLogger. */
require('@nestjs/common').Logger.overrideLogger(false);
