import { Cron } from 'croner';

/**
 * Cron arithmetic of schedules, on croner (IANA time zones, DST as Vixie cron: a fixed-time job in
 * a spring-forward gap runs once right after the gap, one in a repeated hour runs once; interval jobs
 * skip the gap and run in both passes of a repeated hour). Pure: every "now" is an argument.
 */

export const MAX_CRON_LENGTH = 100;

// Standard five-field cron and croner's extensions of it (L, W, #, ?, +, names); no seconds, no
// year, no nicknames (@daily) and no ISO date (croner would take it as a one-off time).
const CRON_FIELD = /^[0-9A-Za-z*,/?#+-]+$/;
const TIME_ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
// A pattern that never matches (30 February) finds no run from here on.
const NEVER_REFERENCE = new Date('2000-01-01T00:00:00Z');

export interface TimingProblem {
  field: 'cron' | 'timezone';
  message: string;
}

/** Whether `timezone` is an IANA time zone name this runtime knows (e.g. `Europe/Berlin`, `UTC`). */
export function isIanaTimeZone(timezone: string): boolean {
  if (!TIME_ZONE.test(timezone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function cronOf(cron: string, timezone: string): Cron {
  return new Cron(cron, { timezone, mode: '5-part', paused: true });
}

/** What is wrong with a cron expression and time zone; empty when the schedule can run. */
export function timingProblems(cron: unknown, timezone: unknown): TimingProblem[] {
  const problems: TimingProblem[] = [];
  const zoneOk = typeof timezone === 'string' && isIanaTimeZone(timezone);
  if (!zoneOk) problems.push({ field: 'timezone', message: 'timezone must be an IANA time zone name, e.g. Europe/Berlin or UTC' });
  if (typeof cron !== 'string' || cron.length > MAX_CRON_LENGTH) {
    problems.push({ field: 'cron', message: `cron must be a string of at most ${MAX_CRON_LENGTH} characters` });
    return problems;
  }
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) {
    problems.push({ field: 'cron', message: 'cron must have 5 fields: minute hour day-of-month month day-of-week (no seconds)' });
    return problems;
  }
  try {
    const next = cronOf(cron, zoneOk ? (timezone as string) : 'UTC').nextRun(NEVER_REFERENCE);
    if (!next) problems.push({ field: 'cron', message: 'cron never matches a date' });
  } catch (err) {
    problems.push({ field: 'cron', message: `cron is invalid: ${(err as Error).message.replace(/^CronPattern: /, '')}` });
  }
  return problems;
}

/** The first cron time strictly after `after`; undefined when there is none. */
export function nextFireAfter(cron: string, timezone: string, after: Date): Date | undefined {
  return cronOf(cron, timezone).nextRun(after) ?? undefined;
}

/**
 * The most recent cron time in `(after, now]`; undefined when none passed since `after`. However
 * many times passed, this is the one a schedule that missed them fires (once).
 */
export function latestFireBetween(cron: string, timezone: string, after: Date, now: Date): Date | undefined {
  if (now.getTime() <= after.getTime()) return undefined;
  // previousRuns looks strictly before its reference: one millisecond on includes `now` itself.
  const [latest] = cronOf(cron, timezone).previousRuns(1, new Date(now.getTime() + 1));
  return latest && latest.getTime() > after.getTime() ? latest : undefined;
}
