import { BeforeApplicationShutdown, Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { EVENT_STORE, EventStore, RecordedEvent } from '@app/event-store';
import { LiveUpdates } from '@app/platform';
import { sagaStreamId } from '@app/sagas';
import { TenantScope } from '../auth/principal.decorator';
import { UuidParam } from '../http/params';
import { SagasService, toEventDto } from './sagas.service';

/** The events after which a saga waits for nothing (COMPENSATION_FAILED waits for an operator). */
const TERMINAL_EVENTS = new Set(['SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed']);
const TERMINAL_STATUSES = new Set(['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED']);
const PAGE = 1000;
/** Fallback when a wake-up is lost (another process without a shared bus, a dropped message). */
const POLL_MS = 500;
/** A comment line now and then keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

function sseFrame(e: RecordedEvent): string {
  return `id: ${e.version}\nevent: ${e.type}\ndata: ${JSON.stringify(toEventDto(e))}\n\n`;
}

/**
 * `GET /v1/sagas/{sagaId}/live`: Server-Sent Events, one per saga event, the history first. The
 * saga's stream is the source: every wake-up (LiveUpdates, or the polling fallback) re-reads it
 * from the last version sent, so a lost signal delays an event but never loses or reorders one.
 * The response ends after a terminal event, when the client goes away, or at shutdown.
 */
@ApiTags('sagas')
@ApiBearerAuth()
@Controller('v1/sagas')
export class SagaLiveController implements BeforeApplicationShutdown {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly sagas: SagasService,
    private readonly live: LiveUpdates,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get(':sagaId/live')
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this saga version (sent as the `id:` of each event)' })
  @ApiOkResponse({
    description: 'text/event-stream: `event: <type>`, `data: <event JSON>` per saga event; ends after COMPLETED, COMPENSATED or COMPENSATION_FAILED',
    content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 0\nevent: SagaStarted\ndata: {"eventId":"…","type":"SagaStarted",…}\n\n' } } },
  })
  @ApiNotFoundResponse({ description: "unknown saga, or another tenant's" })
  async stream(
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
          } while (page.events.length === PAGE);
          if (next > page.version && lastType !== undefined && TERMINAL_EVENTS.has(lastType)) return finish();
        } while (again && !closed);
      } catch {
        // The database is away for a moment: the next wake-up or poll reads again from `next`.
      } finally {
        pumping = false;
      }
    };

    const unwatch = this.live.watch(sagaId, () => void pump());
    const poll = setInterval(() => void pump(), POLL_MS);
    const heartbeat = setInterval(() => !closed && res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.open.add(finish);
    res.on('close', finish);

    // Resumed after the terminal event: nothing more will come.
    if (next > version && TERMINAL_STATUSES.has(state.status)) return finish();
    void pump();
  }

  beforeApplicationShutdown(): void {
    for (const finish of [...this.open]) finish();
  }
}
