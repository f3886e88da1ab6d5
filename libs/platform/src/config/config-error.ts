/**
 * A setting the process cannot start with. The message is one line meant for the operator
 * (`invalid configuration: PORT must be ...`), so it is printed as is, without a stack trace.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * For the `main().catch(...)` of each process: a ConfigError prints its one line on stderr and
 * exits with code 1; anything else returns, for the caller's own handling.
 */
export function exitOnConfigError(err: unknown): void {
  if (!(err instanceof ConfigError)) return;
  // Writes to stderr are synchronous on Linux (files, pipes, terminals): the line is out before the exit.
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
