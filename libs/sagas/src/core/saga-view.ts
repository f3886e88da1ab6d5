import { SagaError } from './saga.errors';
import { CompensationEntry, SagaState } from './saga.state';
import { SagaStatus, SagaType, StepStatus } from './saga.types';

export interface SagaStepView {
  name: string;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  output?: unknown;
  error?: string;
  /** Where the platform decided the failure: TIMEOUT, EXPIRED, LOCK_EXPIRED, CANCELLED, CIRCUIT_OPEN. */
  errorCode?: string;
  /** A running `wait` step: the signal it waits for. */
  waitingFor?: { signal: string };
}

/** Completed ÷ total steps (succeeded or skipped count as completed). */
export interface SagaProgressView {
  completedSteps: number;
  totalSteps: number;
  percent: number;
}

/** `GET /v1/sagas/{sagaId}`. */
export interface SagaView {
  sagaId: string;
  tenantId: string;
  type: SagaType;
  status: SagaStatus;
  input: unknown;
  steps: SagaStepView[];
  progress: SagaProgressView;
  /** The stored workflow definition (and version) it was started from. */
  definition?: { name: string; version: number };
  version: number;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
}

/** The stored workflow definition a saga was started from: recorded in its start (or, before that, its input). */
export function sagaDefinitionOf(state: SagaState): { name: string; version: number } | undefined {
  const d = state.definition ?? (state.sagaType === 'task-workflow' ? (state.input as { definition?: unknown } | null | undefined)?.definition : undefined);
  if (d === null || typeof d !== 'object') return undefined;
  const { name, version } = d as { name?: unknown; version?: unknown };
  return typeof name === 'string' && Number.isSafeInteger(version) ? { name, version: version as number } : undefined;
}

/** `GET /v1/sagas/{sagaId}/compensations`. */
export interface SagaCompensationsView {
  sagaId: string;
  status: SagaStatus;
  entries: CompensationEntry[];
}

function started(state: SagaState): asserts state is SagaState & { status: SagaStatus; startedAt: string } {
  if (state.status === 'NOT_STARTED' || state.startedAt === undefined) {
    throw new SagaError('SAGA_NOT_FOUND', 'saga has not been started');
  }
}

/** The API view of a saga; `version` is the version of the saga stream's last event. */
export function toSagaView(state: SagaState, version: number): SagaView {
  started(state);
  const steps = state.plan.steps.map((p): SagaStepView => {
    const st = state.steps[p.name];
    return {
      name: p.name,
      status: st.status,
      attempts: st.attempts,
      ...(st.startedAt !== undefined ? { startedAt: st.startedAt } : {}),
      ...(st.finishedAt !== undefined ? { finishedAt: st.finishedAt } : {}),
      ...(st.output !== undefined ? { output: st.output } : {}),
      ...(st.error !== undefined ? { error: st.error } : {}),
      ...(st.errorCode !== undefined && st.status !== 'SUCCEEDED' ? { errorCode: st.errorCode } : {}),
      ...(p.waitFor !== undefined && st.status === 'RUNNING' ? { waitingFor: { signal: p.waitFor } } : {}),
    };
  });
  const completedSteps = steps.filter((s) => s.status === 'SUCCEEDED' || s.status === 'SKIPPED').length;
  const totalSteps = steps.length;
  return {
    sagaId: state.sagaId,
    tenantId: state.tenantId,
    type: state.sagaType,
    status: state.status,
    input: state.input,
    steps,
    progress: { completedSteps, totalSteps, percent: totalSteps ? Math.round((completedSteps / totalSteps) * 100) : 100 },
    ...(sagaDefinitionOf(state) ? { definition: sagaDefinitionOf(state) } : {}),
    version,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt ?? state.startedAt,
    ...(state.finishedAt !== undefined ? { finishedAt: state.finishedAt } : {}),
  };
}

export function toCompensationsView(state: SagaState): SagaCompensationsView {
  started(state);
  return { sagaId: state.sagaId, status: state.status, entries: state.compensations.map((e) => ({ ...e })) };
}
