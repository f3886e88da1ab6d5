import { backoffDelay } from '@app/agent-client';
import { ApiClient, Schemas } from '../api/api-client';
import { SagaStatus, TERMINAL_SAGA_STATUSES } from '../api/contract';
import { parseSse, textChunks } from '../api/sse';
import { CliContext } from '../context';
import { CliError, EXIT, ExitCode, isCliError } from '../exit-codes';
import { ApiEvent, eventLine } from '../output/event-line';
import { formatDuration, printJsonLine, printLine } from '../output/output';
import { createProgress, Progress } from '../output/progress';

type SagaView = Schemas['SagaViewDto'];

export interface WatchOptions {
  /** The events shown: all of them (`start`), only the ones to come (`now`), or those after a version. */
  after: 'start' | 'now' | number;
  timeoutMs?: number;
  /** `--progress` / `--no-progress` (see createProgress). */
  progress?: boolean;
}

/** How `sagas watch` ends: documented in its help and the README; scripts rely on it. */
export const WATCH_EXIT: Record<SagaStatus, ExitCode | undefined> = {
  COMPLETED: EXIT.OK,
  COMPENSATED: EXIT.OK,
  // Both wait for an operator: a script learns it at once instead of waiting for ever.
  COMPENSATION_FAILED: EXIT.NEEDS_OPERATOR,
  SUSPENDED: EXIT.NEEDS_OPERATOR,
  SCHEDULED: undefined,
  RUNNING: undefined,
  COMPENSATING: undefined,
};

/** The server sends a comment every 15 s on an idle stream: this long without a byte, the connection is gone. */
const IDLE_MS = 45_000;
/** Consecutive failed (re)connections before giving up (about half a minute of backoff). */
const MAX_RECONNECTS = 8;
/** At most one GET of the saga per this long for the progress bar. */
const PROGRESS_REFRESH_MS = 500;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Follows a saga on GET /v1/sagas/{id}/live until it ends (COMPLETED, COMPENSATED,
 * COMPENSATION_FAILED) or is SUSPENDED, and returns the exit code for that (WATCH_EXIT). Each event
 * is a JSON line (`--json`) or a line for people, with a progress bar on stderr. A dropped stream
 * is resumed with Last-Event-ID, so no event is shown twice or skipped; a stream that ended, or a
 * 204, is confirmed by reading the saga (an operator may have acted in between).
 */
export async function watchSaga(ctx: CliContext, sagaId: string, options: WatchOptions): Promise<ExitCode> {
  const client = ctx.client;
  const stop = new AbortController();
  const timer = options.timeoutMs ? setTimeout(() => stop.abort(), options.timeoutMs) : undefined;
  const progress = createProgress(options.progress, 'steps');
  const watcher = new SagaWatcher(client, sagaId, ctx.json, progress, stop.signal);
  try {
    const view = await watcher.run(options.after);
    progress.stop();
    if (!ctx.json) printLine(outcomeLine(view));
    return WATCH_EXIT[view.status] ?? EXIT.OK;
  } catch (err) {
    progress.stop();
    if (stop.signal.aborted) {
      throw new CliError(EXIT.TIMEOUT, `saga ${sagaId} is still ${watcher.status ?? 'running'} after ${formatDuration(options.timeoutMs)} (--timeout)`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** How it ended, and what an operator can do next. */
function outcomeLine(view: SagaView): string {
  const line = `saga ${view.sagaId} ${view.status} (${view.progress.completedSteps}/${view.progress.totalSteps} steps)`;
  const id = view.sagaId;
  if (view.status === 'COMPENSATION_FAILED') {
    const stuck = view.steps.find((s) => s.status === 'COMPENSATION_FAILED')?.name ?? '<step>';
    return `${line}\n  it needs an operator: saga sagas compensations ${id}; then saga sagas retry ${id}, or saga sagas skip ${id} --step ${stuck} --reason <why>`;
  }
  if (view.status === 'SUSPENDED') return `${line}\n  it needs an operator: saga sagas resume ${id} --reason <why> [--config <json>], or saga sagas compensate ${id} --reason <why>`;
  return line;
}

class SagaWatcher {
  status: SagaStatus | undefined;
  private lastVersion = -1;
  private refreshedAt = 0;

  constructor(
    private readonly client: ApiClient,
    private readonly sagaId: string,
    private readonly json: boolean,
    private readonly progress: Progress,
    private readonly signal: AbortSignal,
  ) {}

  /** Until the saga ends or is suspended: its view at that point. */
  async run(after: WatchOptions['after']): Promise<SagaView> {
    let view = await this.read();
    if (!this.json) this.progress.log(`saga ${view.sagaId} · ${view.type}${view.definition ? ` · ${view.definition.name} v${view.definition.version}` : ''} · ${view.status}`);
    this.lastVersion = after === 'start' ? -1 : after === 'now' ? view.version : after;
    // Nothing to show and nothing will come until an operator acts.
    if (view.status === 'SUSPENDED' && this.lastVersion >= view.version) return view;
    let failures = 0;
    let suspendedUpTo: number | undefined;
    for (;;) {
      if (failures > 0) await sleep(backoffDelay(failures - 1), this.signal);
      this.throwIfStopped();
      let delivered = 0;
      const connection = new AbortController();
      const abortConnection = () => connection.abort();
      this.signal.addEventListener('abort', abortConnection, { once: true });
      let idle: NodeJS.Timeout | undefined;
      try {
        const res = await this.client.openStream('/v1/sagas/{sagaId}/live', {
          path: { sagaId: this.sagaId },
          headers: this.lastVersion >= 0 ? { 'Last-Event-ID': String(this.lastVersion) } : {},
          signal: connection.signal,
        });
        if (res.status === 204 || !res.body) {
          // At or past a terminal event: confirm (an operator may have retried or skipped since,
          // then the next connection streams what followed).
          view = await this.read();
          if (TERMINAL_SAGA_STATUSES.includes(view.status)) return view;
          continue;
        }
        idle = setTimeout(abortConnection, IDLE_MS);
        const chunks = textChunks(res.body);
        const touched = (async function* () {
          for await (const chunk of chunks) {
            idle?.refresh();
            yield chunk;
          }
        })();
        for await (const message of parseSse(touched)) {
          const event = JSON.parse(message.data) as ApiEvent;
          if (event.version <= this.lastVersion) continue;
          this.lastVersion = event.version;
          delivered++;
          failures = 0;
          this.show(event);
          if (event.type === 'SagaSuspended') {
            view = await this.read();
            // Stop at the saga's current suspension (once its events so far are shown), not at one in its history.
            suspendedUpTo = view.status === 'SUSPENDED' ? view.version : undefined;
          } else await this.refreshProgress();
          if (suspendedUpTo !== undefined && event.version >= suspendedUpTo) {
            if (event.type !== 'SagaSuspended') view = await this.read();
            if (view.status === 'SUSPENDED') return view;
            suspendedUpTo = undefined;
          }
        }
      } catch (err) {
        this.throwIfStopped();
        // The API refused (404, 401...): no reconnect will change that.
        if (isCliError(err) && err.exitCode !== EXIT.UNREACHABLE) throw err;
        if (failures >= MAX_RECONNECTS) throw isCliError(err) ? err : new CliError(EXIT.UNREACHABLE, `the live stream of saga ${this.sagaId} keeps dropping: ${(err as Error).message}`);
      } finally {
        clearTimeout(idle);
        this.signal.removeEventListener('abort', abortConnection);
        connection.abort();
        // A connection that brought nothing new counts as a failure: the next one waits a backoff.
        if (delivered === 0) failures++;
      }
      // The stream ended or dropped: reconnect after the last event seen (a 204 if that was the end).
    }
  }

  private async read(): Promise<SagaView> {
    const view = await this.client.get('/v1/sagas/{sagaId}', { path: { sagaId: this.sagaId } });
    this.status = view.status;
    this.refreshedAt = Date.now();
    this.progress.update(view.progress.completedSteps, view.progress.totalSteps, view.status);
    return view;
  }

  private show(event: ApiEvent): void {
    if (this.json) printJsonLine(event);
    else this.progress.log(eventLine(event));
  }

  private async refreshProgress(): Promise<void> {
    if (this.progress.active && Date.now() - this.refreshedAt >= PROGRESS_REFRESH_MS) await this.read();
  }

  private throwIfStopped(): void {
    if (this.signal.aborted) throw new Error('stopped');
  }
}
