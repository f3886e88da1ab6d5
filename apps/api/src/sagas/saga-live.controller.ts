import { BeforeApplicationShutdown, Controller, Get, Headers, Inject, Optional, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { EVENT_STORE, EventStore, RecordedEvent } from '@app/event-store';
import { LiveUpdates } from '@app/platform';
import { isTerminalSagaStatus, sagaStreamId, TERMINAL_SAGA_EVENTS } from '@app/sagas';
import { TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { ApiProblems } from '../http/problem.docs';
import { SagasService, toEventDto } from './sagas.service';

const PAGE = 1000;
/** Fallback when a wake-up is lost (another process without a shared bus, a dropped message). */
const POLL_MS = 500;
/** A comment line after this long without a write keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** Overrides HEARTBEAT_MS (tests provide it, so they need not wait 15 s); unset in the application. */
export const LIVE_HEARTBEAT_MS = Symbol('LIVE_HEARTBEAT_MS');

function sseFrame(e: RecordedEvent): string {
  return `id: ${e.version}\nevent: ${e.type}\ndata: ${JSON.stringify(toEventDto(e))}\n\n`;
}

/**
 * `GET /v1/sagas/{sagaId}/live`: Server-Sent Events, one per saga event, the history first. The
 * saga's stream is the source: every wake-up (LiveUpdates, or the polling fallback) re-reads it
 * from the last version sent, so a lost signal delays an event but never loses or reorders one.
 * The response ends after a terminal event, when the client goes away, or at shutdown. An
 * EventSource reconnects after every end, so a reconnect whose Last-Event-ID is at or past the
 * terminal event answers 204 (no body), which makes it stop. A saga in COMPENSATION_FAILED that an
 * operator has retried or skipped since is no longer terminal: such a reconnect streams what followed.
 */
@ApiTags('sagas')
@ApiBearerAuth()
@Controller('v1/sagas')
export class SagaLiveController implements BeforeApplicationShutdown {
  private readonly open = new Set<() => void>();
  private readonly heartbeatMs: number;

  constructor(
    private readonly sagas: SagasService,
    private readonly live: LiveUpdates,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Optional() @Inject(LIVE_HEARTBEAT_MS) heartbeatMs?: number,
  ) {
    this.heartbeatMs = heartbeatMs ?? HEARTBEAT_MS;
  }

  @Get(':sagaId/live')
  @ApiOperation({
    summary: 'Follow a saga live',
    description: 'Server-Sent Events, one per saga event, the history first; resumes after Last-Event-ID and ends after the terminal event.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this saga version (sent as the `id:` of each event)' })
  @ApiOkResponse({
    description:
      'text/event-stream: `id: <version>`, `event: <type>`, `data: <event JSON>` per saga event, the history first; a `: keep-alive` comment after 15 s without one; ends after COMPLETED, COMPENSATED or COMPENSATION_FAILED',
    content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 0\nevent: SagaStarted\ndata: {"eventId":"…","type":"SagaStarted",…}\n\n' } } },
  })
  @ApiNoContentResponse({
    description:
      'Last-Event-ID is at or past the terminal event (COMPLETED, COMPENSATED, or COMPENSATION_FAILED that no operator has retried or skipped since): nothing more will come, and EventSource clients stop reconnecting',
  })
  @ApiProblems([400, 'sagaId is not a UUID'], [404, "unknown saga, or another tenant's"])
  async followSaga(
    @UuidParam('sagaId') sagaId: string,
    @TenantScope() scope: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    // Before any byte is written, so an unknown saga is an ordinary problem+json 404.
    const { state, version } = await this.sagas.load(sagaId, scope);
    const tenantId = state.tenantId;
    const resumeAfter = lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : -1;
    let next = Math.min(resumeAfter, version) + 1;
    let lastType: string | undefined;

    // Resumed at or after the terminal event (a terminal saga's last event is the terminal one:
    // anything an operator appends takes it out of COMPENSATION_FAILED): nothing more will come.
    if (next > version && isTerminalSagaStatus(state.status)) {
      res.status(204).end();
      return;
    }

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();

    let closed = false;
    let pumping = false;
    let again = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      unwatch();
      clearInterval(poll);
      clearInterval(heartbeat);
      this.open.delete(finish);
      res.end();
    };
    const pump = async (): Promise<void> => {
      if (closed) return;
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          let page;
          do {
            page = await this.store.readStream(sagaStreamId(sagaId), { fromVersion: next, limit: PAGE, tenantId });
            if (closed) return;
            for (const e of page.events) {
              res.write(sseFrame(e));
              next = e.version + 1;
              lastType = e.type;
            }
            // The heartbeat is for idle streams: its interval starts again after each write.
            if (page.events.length > 0) heartbeat.refresh();
          } while (page.events.length === PAGE);
          if (next > page.version && lastType !== undefined && TERMINAL_SAGA_EVENTS.includes(lastType)) return finish();
        } while (again && !closed);
      } catch {
        // The database is away for a moment: the next wake-up or poll reads again from `next`.
      } finally {
        pumping = false;
      }
    };

    const heartbeat = setInterval(() => !closed && res.write(': keep-alive\n\n'), this.heartbeatMs);
    const poll = setInterval(() => void pump(), POLL_MS);
    const unwatch = this.live.watch(sagaId, () => void pump());
    this.open.add(finish);
    res.on('close', finish);
    void pump();
  }

  beforeApplicationShutdown(): void {
    for (const finish of [...this.open]) finish();
  }
}
