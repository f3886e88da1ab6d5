/**
 * What `saga` exits with. Scripts rely on these: change them only with the help text (program.ts)
 * and the README.
 */
export const EXIT = {
  OK: 0,
  /** The API refused the request (a 4xx problem+json: unknown id, validation, role, domain rule). */
  REFUSED: 1,
  /** The command line is wrong: unknown command or option, missing argument, bad value, unreadable file, no key. */
  USAGE: 2,
  /** The API cannot be reached or is unavailable (connection refused, no answer in time, 5xx). */
  UNREACHABLE: 3,
  /** A wait ended in a state that needs an operator: the saga is COMPENSATION_FAILED or SUSPENDED, the projection FAILED. */
  NEEDS_OPERATOR: 4,
  /** `--timeout` passed before the wait ended. */
  TIMEOUT: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  success (sagas watch: the saga ended COMPLETED or COMPENSATED)
  1  the API refused the request (4xx: unknown id, invalid input, role too low, ...);
     the problem's detail is printed on stderr
  2  usage error: unknown command or option, missing argument, bad value, unreadable file, no API key
  3  the API is unreachable or unavailable (connection refused, timeout, 5xx)
  4  a wait ended in a state that needs an operator: sagas watch saw COMPENSATION_FAILED or
     SUSPENDED, projections rebuild --wait saw FAILED
  5  --timeout passed before the wait ended`;

/** The one error the commands throw: a message for stderr and the exit code it stands for. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(EXIT.USAGE, message);

export const isCliError = (err: unknown): err is CliError => err instanceof CliError;
