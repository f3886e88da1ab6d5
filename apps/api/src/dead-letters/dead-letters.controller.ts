import { Controller, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DeadLetter, DeadLetterPage, isMessagingError, MESSAGE_BUS, MessageBus } from '@app/messaging';
import { MinRole } from '../auth/auth.types';
import { TenantScope } from '../auth/principal.decorator';
import { ListRoute } from '../http/list-route.decorator';
import { badRequest, notFound, problem, ProblemException } from '../http/problem';
import { ApiProblems } from '../http/problem.docs';
import { DEAD_LETTER_ID_PATTERN, DeadLetterDto, DeadLetterPageDto, ListDeadLettersQueryDto, ReplayAcceptedDto } from './dead-letters.dto';

// A tenant-scoped listing filters what the bus returns: it reads the bus in pages this large, and
// at most this many of them per request (then answers a short page with a cursor to go on from).
const SCAN_PAGE = 500;
const MAX_SCANNED_PAGES = 20;

/** The tenant a dead letter belongs to: the integration events carry it in their payload. */
function tenantOf(d: DeadLetter): string | undefined {
  const payload = d.message.payload as { tenantId?: unknown } | null;
  const fromPayload = payload && typeof payload === 'object' ? payload.tenantId : undefined;
  if (typeof fromPayload === 'string') return fromPayload;
  return d.message.headers?.['tenant-id'] ?? d.message.headers?.tenantId;
}

const toDto = (d: DeadLetter): DeadLetterDto => ({
  id: d.id,
  topic: d.topic,
  message: d.message,
  reason: d.reason,
  deliveries: d.deliveries,
  at: d.at,
});

/**
 * Messages whose deliveries kept failing. Operators see their tenant's (a message's tenant is the
 * `tenantId` of its payload); the admin key sees every one, including messages of no tenant.
 */
@ApiTags('dead letters')
@ApiBearerAuth()
@ApiProblems(403, [503, 'the database or the message broker is unreachable'])
@MinRole('operator')
@Controller('v1/dead-letters')
export class DeadLettersController {
  constructor(@Inject(MESSAGE_BUS) private readonly bus: MessageBus) {}

  @ListRoute('List dead letters', DeadLetterPageDto, 'Dead letters of the tenant (admin: all, including messages of no tenant), oldest first, optionally of one topic.')
  async listDeadLetters(@Query() q: ListDeadLettersQueryDto, @TenantScope() tenantId?: string): Promise<DeadLetterPageDto> {
    const limit = q.limit;
    if (tenantId === undefined) {
      const page = await this.call(() => this.bus.listDeadLetters({ topic: q.topic, limit, cursor: q.cursor }));
      return { items: page.items.map(toDto), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    }
    const items: DeadLetterDto[] = [];
    let cursor = q.cursor;
    for (let scanned = 0; scanned < MAX_SCANNED_PAGES; scanned++) {
      const page = await this.call(() => this.bus.listDeadLetters({ topic: q.topic, limit: SCAN_PAGE, cursor }));
      for (const d of page.items) {
        if (tenantOf(d) !== tenantId) continue;
        items.push(toDto(d));
        if (items.length === limit) return { items, nextCursor: d.id };
      }
      if (!page.nextCursor) return { items };
      cursor = page.nextCursor;
    }
    return { items, nextCursor: cursor };
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Replay a dead letter', description: 'Delivers a dead letter to its topic again and removes it from the dead letters.' })
  @ApiAcceptedResponse({ type: ReplayAcceptedDto })
  @ApiProblems([404, 'no such dead letter (or another tenant’s)'])
  async replayDeadLetter(@Param('id') id: string, @TenantScope() tenantId?: string): Promise<ReplayAcceptedDto> {
    if (!DEAD_LETTER_ID_PATTERN.test(id)) throw notFound(`dead letter ${id} not found`);
    const dead = await this.find(id);
    if (!dead || (tenantId !== undefined && tenantOf(dead) !== tenantId)) throw notFound(`dead letter ${id} not found`);
    if (!(await this.call(() => this.bus.replayDeadLetter(id)))) throw notFound(`dead letter ${id} not found`);
    return { id, topic: dead.topic };
  }

  /** The port has no lookup by id: walk the dead letters (an operator action, rarely many). */
  private async find(id: string): Promise<DeadLetter | undefined> {
    let cursor: string | undefined;
    for (;;) {
      const page: DeadLetterPage = await this.call(() => this.bus.listDeadLetters({ limit: 1000, cursor }));
      const hit = page.items.find((d) => d.id === id);
      if (hit) return hit;
      if (!page.nextCursor) return undefined;
      cursor = page.nextCursor;
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isMessagingError(err, 'INVALID_ARGUMENT')) throw badRequest(err.message, [{ field: 'cursor', message: err.message }]);
      if (isMessagingError(err)) throw new ProblemException(problem(503, `the message broker is unavailable: ${err.message}`));
      throw err;
    }
  }
}
