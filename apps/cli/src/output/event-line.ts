/** An event as the API returns it (saga streams, the live stream, the global log). */
export interface ApiEvent {
  type: string;
  version: number;
  streamId: string;
  globalPosition: number;
  data: Record<string, unknown>;
  recordedAt: string;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const by = (d: Record<string, unknown>) => (d.actor ? ` by ${text(d.actor)}` : '');
const because = (d: Record<string, unknown>) => (d.reason ? `: ${text(d.reason)}` : '');
const attempt = (d: Record<string, unknown>) => (d.attempt !== undefined ? ` (attempt ${text(d.attempt)}${d.final ? ', final' : ''})` : '');
const error = (d: Record<string, unknown>) => (d.error ? `: ${text(d.error)}${d.code ? ` [${text(d.code)}]` : ''}` : '');

const DESCRIBE: Record<string, (d: Record<string, unknown>) => string> = {
  SagaStarted: () => 'started',
  SagaScheduled: (d) => `scheduled to start at ${text(d.startAt)}`,
  StepStarted: (d) => `${text(d.step)} started${attempt(d)}`,
  StepSucceeded: (d) => `${text(d.step)} succeeded${attempt(d)}`,
  StepFailed: (d) => `${text(d.step)} failed${attempt(d)}${error(d)}`,
  StepRetryScheduled: (d) => `${text(d.step)} runs again in ${text(d.delayMs)} ms (attempt ${text(d.nextAttempt)})`,
  CompensationStarted: (d) => `compensating${d.failedStep ? ` after ${text(d.failedStep)}` : ''}${by(d)}${because(d)}`,
  StepCompensationStarted: (d) => `${text(d.step)} compensation started${attempt(d)}`,
  StepCompensated: (d) => `${text(d.step)} compensated${attempt(d)}`,
  StepCompensationFailed: (d) => `${text(d.step)} compensation failed${attempt(d)}${error(d)}`,
  SagaCompleted: () => 'COMPLETED',
  SagaCompensated: (d) => `COMPENSATED${d.rolledBack ? ' (rolled back by an operator)' : ''}`,
  SagaCompensationFailed: (d) => `COMPENSATION_FAILED: ${text(d.step)}'s compensation${error(d)}`,
  CompensationRetried: (d) => `compensation retried${by(d)}${because(d)}`,
  CompensationSkipped: (d) => `${text(d.step)}'s compensation skipped${by(d)}${because(d)}`,
  SagaCancelRequested: (d) => `cancel requested${by(d)}${because(d)}`,
  SagaSuspended: (d) => `SUSPENDED: ${text(d.step)}${error(d)}`,
  SagaResumed: (d) => `resumed${d.step ? ` at ${text(d.step)}` : ''}${by(d)}${because(d)}${d.config !== undefined ? ' with a new config' : ''}`,
  SignalReceived: (d) => `signal ${text(d.name)} received (${text(d.signalId)})`,
};

/** What an event says, in a few words (the saga events by name; any other by its notable fields). */
export function describeEvent(e: Pick<ApiEvent, 'type' | 'data'>): string {
  const data = e.data && typeof e.data === 'object' ? e.data : {};
  const known = DESCRIBE[e.type];
  if (known) return known(data);
  return ['step', 'name', 'status', 'attempt', 'error', 'actor', 'reason']
    .filter((k) => data[k] !== undefined)
    .map((k) => `${k}=${text(data[k])}`)
    .join(' ');
}

/** `12:00:01.123Z  StepFailed               b failed (attempt 1, final): boom` */
export function eventLine(e: ApiEvent, where: string = ''): string {
  const at = typeof e.data?.at === 'string' ? e.data.at : e.recordedAt;
  const time = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(at)?.[1] ?? at;
  return `${time}Z  ${where}${e.type.padEnd(24)} ${describeEvent(e)}`;
}
