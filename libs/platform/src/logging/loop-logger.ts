import { Logger } from '@nestjs/common';

/** At most one line per this interval for the same repeated failure of a loop. */
const REPEAT_EVERY_MS = 30_000;

/**
 * The `log` option of the worker's loops (saga executor, projection runner) on a Nest logger:
 * failures at warn, rebuilds at info, the rest at debug. A loop that fails again and again (the
 * database away for minutes) says so at once and then every 30 s with a count, not on every retry.
 */
export function loopLogger(context: string): (message: string, fields?: Record<string, unknown>) => void {
  const logger = new Logger(context);
  const repeats = new Map<string, { lastAt: number; suppressed: number }>();
  return (message, fields = {}) => {
    const { error, ...rest } = fields;
    if (/failed|lost/.test(message)) {
      const key = `${message}|${String(rest.projection ?? rest.worker ?? '')}`;
      const seen = repeats.get(key);
      const now = Date.now();
      if (seen && now - seen.lastAt < REPEAT_EVERY_MS) {
        seen.suppressed++;
        return;
      }
      const again = seen?.suppressed ? ` (${seen.suppressed} more since the last line)` : '';
      repeats.set(key, { lastAt: now, suppressed: 0 });
      logger.warn({ msg: `${message}${error ? `: ${String(error)}` : ''}${again}`, ...rest });
    } else if (/rebuild/.test(message)) {
      logger.log({ msg: message, ...rest });
    } else {
      logger.debug({ msg: message, ...rest });
    }
  };
}
