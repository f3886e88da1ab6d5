import { Inject, Injectable } from '@nestjs/common';
import { AGENT_WORK, AgentWork } from '@app/agents';
import { EVENT_STORE, EventStore, RecordedEvent } from '@app/event-store';
import { SagaExecutor, SagaState, sagaStreamId, SagaView, toSagaView } from '@app/sagas';
import { notFound } from '../http/problem';
import { SagaEventDto, SagaEventsDto } from './saga-views.dto';

export interface VisibleSaga {
  state: SagaState;
  version: number;
}

/** An event as the API writes it (stream reads, saga events, live updates). */
export function toEventDto(e: RecordedEvent): SagaEventDto {
  return {
    eventId: e.eventId,
    streamId: e.streamId,
    version: e.version,
    globalPosition: e.globalPosition,
    type: e.type,
    schemaVersion: e.schemaVersion,
    data: e.data,
    metadata: e.metadata,
    recordedAt: e.recordedAt instanceof Date ? e.recordedAt.toISOString() : String(e.recordedAt),
  };
}

/**
 * Reads of one saga from its own stream (strongly consistent, unlike the read models). Another
 * tenant's saga answers 404 like an unknown one, so ids leak nothing.
 */
@Injectable()
export class SagasService {
  constructor(
    private readonly executor: SagaExecutor,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(AGENT_WORK) private readonly agentWork: AgentWork,
  ) {}

  /** The saga, if it exists and `scope` (undefined: the admin key) may see it; else a 404. */
  async load(sagaId: string, scope: string | undefined): Promise<VisibleSaga> {
    const loaded = await this.executor.load(sagaId);
    if (!loaded || loaded.state.status === 'NOT_STARTED' || (scope !== undefined && loaded.state.tenantId !== scope)) {
      throw notFound(`saga ${sagaId} not found`);
    }
    return loaded;
  }

  /** The saga from its stream; steps run by agents also show their queue and reported progress. */
  async view(sagaId: string, scope: string | undefined): Promise<SagaView> {
    const { state, version } = await this.load(sagaId, scope);
    const view = toSagaView(state, version);
    if (!state.plan.steps.some((p) => p.external && state.steps[p.name]?.status === 'RUNNING')) return view;
    const queued = await this.agentWork.sagaSteps(state.tenantId, sagaId);
    return { ...view, steps: view.steps.map((s) => (queued[s.name] && s.status === 'RUNNING' ? { ...s, ...queued[s.name] } : s)) };
  }

  async events(
    sagaId: string,
    scope: string | undefined,
    options: { fromVersion?: number; limit: number; direction: 'forward' | 'backward' },
  ): Promise<SagaEventsDto> {
    const streamId = sagaStreamId(sagaId);
    const page = await this.store.readStream(streamId, { ...options, tenantId: scope });
    if (page.version < 0) throw notFound(`saga ${sagaId} not found`);
    return { streamId, version: page.version, events: page.events.map(toEventDto) };
  }
}
