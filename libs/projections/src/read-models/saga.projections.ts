import { RecordedEvent } from '@app/event-store';
import { evolve, initialSagaState, SAGA_EVENT_TYPES, SagaEvent, SagaState, stableJson, toSagaView } from '@app/sagas';
import { Projection, ProjectionContext } from '../projection';
import { defineRowProjection, Row, RowTable } from '../row-projection';

const sagaIdOf = (e: RecordedEvent) => e.streamId.slice('saga-'.length);

/**
 * `saga_summaries` and `saga_steps`: the saga's state folded with the executor's own `evolve`
 * (kept in saga_summaries.state), so the read model can never interpret an event differently.
 */
export function sagaSummariesProjection(): Projection {
  const summaries = new RowTable('saga_summaries', ['saga_id']);
  const steps = new RowTable('saga_steps', ['saga_id', 'name']);
  return {
    name: 'saga_summaries',
    tables: ['saga_summaries', 'saga_steps'],
    eventTypes: [...SAGA_EVENT_TYPES],
    async handle(events: RecordedEvent[], { tx }: ProjectionContext): Promise<void> {
      const sagaIds = [...new Set(events.map(sagaIdOf))];
      const states = new Map<string, { state: SagaState; version: number }>();
      // The steps as the read model has them: only the ones a batch changes are written again (a
      // wide saga's batch would otherwise rewrite every step of it).
      const before = new Map<string, Map<string, string>>();
      for (const row of await summaries.load(tx, sagaIds.map((saga_id) => ({ saga_id })))) {
        states.set(row.saga_id as string, { state: row.state as SagaState, version: Number(row.version) });
        before.set(row.saga_id as string, new Map((row.steps as { name: string }[]).map((s) => [s.name, stableJson(s)])));
      }
      for (const e of events) {
        const id = sagaIdOf(e);
        const current = states.get(id) ?? { state: initialSagaState(), version: -1 };
        if (e.version <= current.version) continue; // already applied (never happens with checkpoints)
        states.set(id, { state: evolve(current.state, { type: e.type, data: e.data } as SagaEvent), version: e.version });
      }
      const summaryRows: Row[] = [];
      const stepRows: Row[] = [];
      for (const [sagaId, { state, version }] of states) {
        if (state.status === 'NOT_STARTED') continue;
        const view = toSagaView(state, version);
        summaryRows.push({
          saga_id: sagaId,
          tenant_id: state.tenantId,
          type: state.sagaType,
          status: state.status,
          input: state.input ?? {},
          steps: view.steps,
          failed_step: state.failedStep ?? null,
          version,
          started_at: view.startedAt,
          updated_at: view.updatedAt,
          finished_at: view.finishedAt ?? null,
          duration_ms: view.finishedAt ? Date.parse(view.finishedAt) - Date.parse(view.startedAt) : null,
          state,
          definition_name: view.definition?.name ?? null,
          definition_version: view.definition?.version ?? null,
        });
        const previous = before.get(sagaId);
        for (const s of view.steps) {
          if (previous?.get(s.name) === stableJson(s)) continue;
          stepRows.push({
            saga_id: sagaId,
            name: s.name,
            tenant_id: state.tenantId,
            status: s.status,
            attempts: s.attempts,
            started_at: s.startedAt ?? null,
            finished_at: s.finishedAt ?? null,
            output: s.output === undefined ? null : s.output,
            error: s.error ?? null,
          });
        }
      }
      await summaries.upsert(tx, summaryRows);
      await steps.upsert(tx, stepRows);
    },
  };
}

const COMPENSATION_STATUS: Record<string, string> = {
  StepCompensationStarted: 'STARTED',
  StepCompensated: 'SUCCEEDED',
  StepCompensationFailed: 'FAILED',
  CompensationSkipped: 'SKIPPED',
};

/** `compensation_log`: one row per compensation event, keyed by the saga event's version. */
export const compensationLogProjection = defineRowProjection({
  name: 'compensation_log',
  table: 'compensation_log',
  key: ['saga_id', 'seq'],
  eventTypes: Object.keys(COMPENSATION_STATUS),
  keys: (e) => [{ saga_id: sagaIdOf(e), seq: e.version }],
  evolve(_row, e): Row {
    const d = e.data as Record<string, any>;
    return {
      tenant_id: e.metadata.tenantId,
      step: d.step,
      status: COMPENSATION_STATUS[e.type],
      attempt: d.attempt ?? 0,
      error: d.error ?? null,
      actor: d.actor ?? null,
      reason: d.reason ?? null,
      at: d.at ?? e.recordedAt.toISOString(),
    };
  },
});
