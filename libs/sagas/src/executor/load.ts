import { PoolClient } from 'pg';
import { EventStore, RecordedEvent } from '@app/event-store';
import { foldSagaEvents } from '../core/saga.decider';
import { SagaEvent } from '../core/saga.events';
import { sagaStreamId } from '../core/saga.types';
import { Loaded } from './executor.types';

const PAGE = 1000;

/** The saga's state folded from its stream, or undefined when it does not exist. */
export async function loadSaga(store: EventStore, sagaId: string, tx?: PoolClient): Promise<Loaded | undefined> {
  const events: SagaEvent[] = [];
  let version = -1;
  let traceparent: string | undefined;
  for (;;) {
    const page = await store.readStream(sagaStreamId(sagaId), { fromVersion: version + 1, limit: PAGE, tx });
    if (version < 0) traceparent = traceparentIn(page.events);
    for (const e of page.events) events.push(asSagaEvent(e));
    if (page.events.length) version = page.events[page.events.length - 1].version;
    if (page.events.length < PAGE) break;
  }
  if (version < 0) return undefined;
  return { state: foldSagaEvents(events), version, ...(traceparent ? { traceparent } : {}) };
}

/** Several sagas' states in one read (missing sagas are absent). */
export async function loadSagas(store: EventStore, sagaIds: string[]): Promise<Map<string, Loaded>> {
  const streams = await store.readStreams(sagaIds.map(sagaStreamId));
  const out = new Map<string, Loaded>();
  for (const sagaId of sagaIds) {
    const events = streams.get(sagaStreamId(sagaId));
    if (!events?.length) continue;
    const traceparent = traceparentIn(events);
    out.set(sagaId, { state: foldSagaEvents(events.map(asSagaEvent)), version: events[events.length - 1].version, ...(traceparent ? { traceparent } : {}) });
  }
  return out;
}

/** The saga's trace: the `traceparent` its start stored (see tracing.ts), given its first events. */
function traceparentIn(events: RecordedEvent[]): string | undefined {
  const tp = events[0]?.version === 0 ? events[0].metadata?.traceparent : undefined;
  return typeof tp === 'string' ? tp : undefined;
}

function asSagaEvent(e: RecordedEvent): SagaEvent {
  return { type: e.type, data: e.data } as SagaEvent;
}
