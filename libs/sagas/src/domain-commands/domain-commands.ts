import { PoolClient } from 'pg';
import { agentDecider, quotaDecider, scheduleDecider, serviceDecider, taskDecider, tenantDecider, workflowDefinitionDecider } from '@app/domain';
import { AggregateType, EventMetadata, HandleResult, PreparedGroup } from '@app/event-store';

/** Aggregates the platform's commands address, by stream category. */
export const AGGREGATES = {
  // Streams that grow with the tenant's activity are snapshotted; agent, service and task streams
  // hold a handful of events for their whole life, where a snapshot lookup would only cost a query.
  tenant: { category: 'tenant', decider: tenantDecider, snapshot: { every: 50, schemaVersion: 1 } },
  quota: { category: 'quota', decider: quotaDecider, snapshot: { every: 50, schemaVersion: 1 } },
  agent: { category: 'agent', decider: agentDecider },
  service: { category: 'service', decider: serviceDecider },
  task: { category: 'task', decider: taskDecider },
  workflowdef: { category: 'workflowdef', decider: workflowDefinitionDecider, snapshot: { every: 50, schemaVersion: 1 } },
  schedule: { category: 'schedule', decider: scheduleDecider, snapshot: { every: 50, schemaVersion: 1 } },
} as const satisfies Record<string, AggregateType<any, any, any>>;

export type AggregateName = keyof typeof AGGREGATES;

export interface DomainCommandEnvelope {
  aggregate: AggregateName;
  id: string;
  command: { type: string; data: any };
  /** Do nothing when the aggregate does not exist (e.g. undo a task only if it was recorded). */
  ifExists?: boolean;
  /** Further commands decided after `command` on the state it produced, appended together. */
  then?: { type: string; data: any }[];
  tenantId: string;
  /** Deterministic: event ids derive from it, so a retried command appends nothing new. */
  commandId?: string;
  metadata?: Partial<EventMetadata>;
  tx?: PoolClient;
}

/** Port through which sagas (and the API) execute domain commands; the Nest app routes it via CommandBus. */
export interface DomainCommandDispatcher {
  dispatch(envelope: DomainCommandEnvelope): Promise<HandleResult<any, any>>;
  /** Current state of an aggregate (version -1: it does not exist). */
  load(aggregate: AggregateName, id: string, tx?: PoolClient): Promise<{ state: any; version: number }>;
  /**
   * Decides groups of commands (a step outcome's each) against one read, without writing: the
   * appends to commit with the saga's transition in a group commit, or a group's error (then the
   * executor dispatches that group one command at a time). Optional: without it every group is
   * dispatched one by one.
   */
  prepare?(groups: DomainCommandEnvelope[][], tx?: PoolClient): Promise<(PreparedGroup | Error)[]>;
}
