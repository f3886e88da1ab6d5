import { Inject, Injectable } from '@nestjs/common';
import {
  AggregateRepository,
  AggregateType,
  AppendResult,
  categoryOf,
  EVENT_STORE,
  EventStore,
  ExpectedVersion,
  isEventStoreError,
  NewEvent,
  PLATFORM_CATEGORIES,
  Queryable,
  ReadAllResult,
  ReadStreamResult,
} from '@app/event-store';
import { AGGREGATES, sagaDecider } from '@app/sagas';
import { conflict, forbidden, notFound } from '../http/problem';
import { NewEventDto } from './streams.dto';

/** Who appends: written into every event's metadata, over whatever the caller put there. */
export interface AppendContext {
  tenantId: string;
  correlationId?: string;
  actor: string;
}

// The saga stream folds with the saga decider's evolve, exactly as the executor folds it.
const SAGA_AGGREGATE: AggregateType<any, any, any> = { category: 'saga', decider: sagaDecider };

const STATE_TYPES: Record<string, AggregateType<any, any, any>> = {
  ...Object.fromEntries(Object.values(AGGREGATES).map((a) => [a.category, a as AggregateType<any, any, any>])),
  saga: SAGA_AGGREGATE,
};

export const isPlatformCategory = (streamId: string): boolean => (PLATFORM_CATEGORIES as readonly string[]).includes(categoryOf(streamId));

const streamNotFound = (streamId: string) => notFound(`stream ${streamId} not found`);

/** The raw event-store routes: appends to non-platform streams, stream and log reads, state replay. */
@Injectable()
export class StreamsService {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly repository: AggregateRepository,
  ) {}

  /**
   * Appends for the caller's tenant. A stream belongs to the tenant of its events: another tenant's
   * stream answers 404 (a 409 with its version would reveal that it exists). The check runs before
   * the append, and again after it inside the same transaction: a concurrent first append by another
   * tenant either committed before ours (the unique index on (stream_id, version) made our insert
   * wait for it) and is seen then, or will see ours, so two tenants never share a stream.
   */
  async append(streamId: string, expectedVersion: ExpectedVersion, input: NewEventDto[], ctx: AppendContext): Promise<AppendResult> {
    if (isPlatformCategory(streamId)) {
      throw forbidden(`the ${categoryOf(streamId)} category is written only by the platform`);
    }
    const platformKeys = { tenantId: ctx.tenantId, actor: ctx.actor, ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}) };
    const events: NewEvent[] = input.map((e) => ({
      // Lower case, as PostgreSQL returns uuids: the idempotent-replay check compares them as text.
      ...(e.eventId ? { eventId: e.eventId.toLowerCase() } : {}),
      type: e.type,
      data: e.data,
      metadata: { ...(e.metadata ?? {}), ...platformKeys },
    }));
    try {
      return await this.store.transaction(async (tx) => {
        if (await this.ownedByAnotherTenant(streamId, ctx.tenantId, tx)) throw streamNotFound(streamId);
        const result = await this.store.appendToStream(streamId, events, { expectedVersion, tenantId: ctx.tenantId, tx });
        if (await this.ownedByAnotherTenant(streamId, ctx.tenantId, tx)) throw streamNotFound(streamId);
        return result;
      });
    } catch (err) {
      if (isEventStoreError(err, 'WRONG_EXPECTED_VERSION') && (await this.ownedByAnotherTenant(streamId, ctx.tenantId))) {
        throw streamNotFound(streamId);
      }
      if (isEventStoreError(err, 'DUPLICATE_EVENT_ID')) {
        // The clashing event may sit in another tenant's stream: name only the id the caller sent.
        throw conflict(`event id ${String(err.details.eventId)} is already stored with other content or at another place`, {
          code: 'DUPLICATE_EVENT_ID',
          eventId: err.details.eventId,
        });
      }
      throw err;
    }
  }

  /** A stream read, scoped to the tenant (undefined: all); 404 when it has no events for it. */
  async read(
    streamId: string,
    options: { fromVersion?: number; limit: number; direction: 'forward' | 'backward'; tenantId?: string },
  ): Promise<ReadStreamResult> {
    const result = await this.store.readStream(streamId, options);
    if (result.version < 0) throw streamNotFound(streamId);
    return result;
  }

  readAll(options: { after: number; limit: number; category?: string; tenantId?: string }): Promise<ReadAllResult> {
    return this.store.readAll(options);
  }

  /**
   * The state of a platform stream replayed by its own evolve (snapshot + tail where one fits), up to
   * `atVersion` inclusive. An `atVersion` beyond the last event gives the state at the end, with the
   * version actually reached.
   */
  async state(streamId: string, atVersion: number | undefined, tenantId: string | undefined): Promise<{ streamId: string; version: number; state: unknown }> {
    const type = STATE_TYPES[categoryOf(streamId)];
    if (!type) throw notFound(`stream ${streamId} is not a platform stream; only platform streams have a replayed state`);
    const head = await this.store.streamHead(streamId, { tenantId });
    if (head.version < 0 || head.otherTenant) throw streamNotFound(streamId);
    const id = streamId.slice(type.category.length + 1);
    const loaded = await this.repository.load(type, id, { atVersion });
    return { streamId, version: loaded.version, state: loaded.state };
  }

  private async ownedByAnotherTenant(streamId: string, tenantId: string, tx?: Queryable): Promise<boolean> {
    return (await this.store.streamHead(streamId, { tenantId, tx })).otherTenant;
  }
}
