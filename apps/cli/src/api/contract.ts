import type { Schemas } from './api-client';

/**
 * `values` must list every member of `T`: when the API adds a status, the CLI's typecheck names
 * the one missing here (the lists feed `--status` choices and the watch outcome).
 */
const every =
  <T extends string>() =>
  <const A extends readonly T[]>(...values: A & ([Exclude<T, A[number]>] extends [never] ? unknown : { missing: Exclude<T, A[number]> })): A =>
    values;

export type SagaStatus = Schemas['SagaSummaryDto']['status'];
export type SagaType = Schemas['SagaSummaryDto']['type'];
export type ProjectionStatus = Schemas['ProjectionStatusDto']['status'];

export const SAGA_STATUSES = every<SagaStatus>()('SCHEDULED', 'RUNNING', 'SUSPENDED', 'COMPLETED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED');
export const SAGA_TYPES = every<SagaType>()('agent-provisioning', 'task-workflow', 'agent-decommissioning');
export const COMPENSATION_STATUSES = every<Schemas['CompensationLogItemDto']['status']>()('STARTED', 'SUCCEEDED', 'FAILED', 'SKIPPED');
export const AGENT_STATUSES = every<Schemas['AgentDto']['status']>()('PROVISIONING', 'ACTIVE', 'DECOMMISSIONED');
export const SCHEDULABLE_SAGA_TYPES = every<Schemas['CreateScheduleDto']['sagaType']>()('task-workflow', 'agent-provisioning');
export const SCHEDULE_OVERLAPS = every<NonNullable<Schemas['CreateScheduleDto']['overlap']>>()('skip', 'allow');

/** Where the live stream ends (API.md: `/live` ends after a terminal status). */
export const TERMINAL_SAGA_STATUSES: readonly SagaStatus[] = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'];
