import { deterministicUuid, EventStore, RecordedEvent } from '@app/event-store';
import { MessageBus } from '@app/messaging';
import { Projection, ProjectionContext } from '@app/projections';

/** Topic of the integration events (one stream, so that events stay in order per saga). */
export const INTEGRATION_TOPIC = 'saga.events';

/** Saga events published to integrators, with their public names. */
export const PUBLIC_SAGA_EVENTS: Record<string, string> = {
  SagaStarted: 'saga.started',
  StepSucceeded: 'saga.step_succeeded',
  StepFailed: 'saga.step_failed',
  CompensationStarted: 'saga.compensating',
  StepCompensated: 'saga.step_compensated',
  SagaCompleted: 'saga.completed',
  SagaCompensated: 'saga.compensated',
  SagaCompensationFailed: 'saga.compensation_failed',
  CompensationSkipped: 'saga.compensation_skipped',
  CompensationRetried: 'saga.compensation_retried',
  SagaSuspended: 'saga.suspended',
  SagaResumed: 'saga.resumed',
};

/** Published, after `saga.compensated`, when an operator's cancel or compensate finished compensating. */
export const ROLLED_BACK = 'saga.rolled_back';

/** Service-registry events published to integrators (keyed by agent), with their public names. */
export const PUBLIC_SERVICE_EVENTS: Record<string, string> = {
  ServiceStatusChanged: 'service.status_changed',
};

export const RELAY_NAME = 'integration_relay';

/**
 * The integration-event relay, run like a projection: it reads the global log after its
 * checkpoint (kept in PostgreSQL, one active instance), publishes each public saga event in log
 * order, and the checkpoint moves only after the broker accepted the batch: at least once, in
 * order per saga. The message id is the event id, so consumers de-duplicate. While the broker is
 * down the batch fails and is retried with backoff from the same checkpoint; when the broker lost
 * its data (Redis flushed: its epoch changed) the relay first publishes the earlier lifecycle
 * events again.
 */
export function integrationRelay(bus: MessageBus, store: EventStore): Projection {
  const publish = async (e: RecordedEvent, ifEpoch: string) => {
    if (e.streamId.startsWith('service-')) {
      const type = PUBLIC_SERVICE_EVENTS[e.type];
      if (type) await publishAs(e, type, e.eventId, { agentId: e.streamId.slice('service-'.length) }, ifEpoch);
      return;
    }
    const saga = { sagaId: e.streamId.slice('saga-'.length), sagaVersion: e.version };
    await publishAs(e, PUBLIC_SAGA_EVENTS[e.type], e.eventId, saga, ifEpoch);
    if (e.type === 'SagaCompensated' && (e.data as { rolledBack?: boolean }).rolledBack) {
      // Its own message id, derived from the event's: redeliveries stay de-duplicable.
      await publishAs(e, ROLLED_BACK, deterministicUuid(`${e.eventId}:rolled_back`), saga, ifEpoch);
    }
  };

  /** One integration event: keyed by its saga (or agent), so it stays in order per saga. */
  const publishAs = async (
    e: RecordedEvent,
    type: string,
    id: string,
    subject: { sagaId: string; sagaVersion: number } | { agentId: string },
    ifEpoch: string,
  ) => {
    await bus.publish(
      INTEGRATION_TOPIC,
      {
        id,
        key: 'sagaId' in subject ? subject.sagaId : subject.agentId,
        headers: { type },
        payload: {
          type,
          eventId: id,
          ...subject,
          globalPosition: e.globalPosition,
          tenantId: e.metadata.tenantId,
          correlationId: e.metadata.correlationId,
          data: e.data,
          at: e.recordedAt.toISOString(),
        },
      },
      { ifEpoch },
    );
  };

  // Reads through the batch's own transaction: on the embedded PGlite every connection shares one
  // session, so a read on another pooled connection would wait for this transaction forever.
  const republishBefore = async (position: number, epoch: string, tx: ProjectionContext['tx']) => {
    for (let after = 0; ; ) {
      const page = await store.readAll({ after, limit: 1000, category: 'saga', tx });
      const older = page.events.filter((e) => e.globalPosition < position);
      for (const e of older) if (PUBLIC_SAGA_EVENTS[e.type]) await publish(e, epoch);
      if (older.length < page.events.length || page.events.length < 1000) return;
      after = page.lastPosition;
    }
  };

  const knownEpoch = async (tx: ProjectionContext['tx']) => {
    const { rows } = await tx.query<{ broker_epoch: string | null }>('select broker_epoch from relay_state where name = $1', [RELAY_NAME]);
    return rows[0]?.broker_epoch ?? null;
  };
  const storeEpoch = (tx: ProjectionContext['tx'], epoch: string) =>
    tx.query(
      `insert into relay_state (name, broker_epoch) values ($1, $2)
       on conflict (name) do update set broker_epoch = excluded.broker_epoch, updated_at = now()`,
      [RELAY_NAME, epoch],
    );
  let lastIdleCheck = 0;

  return {
    name: RELAY_NAME,
    tables: [],
    eventTypes: [...Object.keys(PUBLIC_SAGA_EVENTS), ...Object.keys(PUBLIC_SERVICE_EVENTS)],
    async handle(events: RecordedEvent[], { tx }: ProjectionContext): Promise<void> {
      const epoch = await bus.epoch();
      const known = await knownEpoch(tx);
      // Every publish is checked against this epoch atomically: if the broker loses its data in
      // the middle of the batch, the rest is refused, the batch fails, and the retry republishes
      // everything before it first, so per saga the first deliveries stay in order.
      if (known !== null && known !== epoch) await republishBefore(events[0].globalPosition, epoch, tx);
      for (const e of events) await publish(e, epoch);
      if (known !== epoch) await storeEpoch(tx, epoch);
    },
    // Caught up and quiet: a broker that lost its data meanwhile is noticed without waiting for
    // the next saga event (checked at most once a second).
    async onIdle({ tx, position }): Promise<void> {
      if (Date.now() - lastIdleCheck < 1000) return;
      lastIdleCheck = Date.now();
      const epoch = await bus.epoch();
      const known = await knownEpoch(tx);
      if (known === epoch) return;
      if (known !== null) await republishBefore(position + 1, epoch, tx);
      await storeEpoch(tx, epoch);
    },
  };
}
