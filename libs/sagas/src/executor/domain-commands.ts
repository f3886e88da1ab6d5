import { PoolClient } from 'pg';
import {
  agentDecider,
  quotaDecider,
  serviceDecider,
  taskDecider,
  tenantDecider,
  DomainError,
} from '@app/domain';
import { AggregateRepository, AggregateType, EventMetadata, HandleResult, PreparedGroup } from '@app/event-store';

/** Aggregates the platform's commands address, by stream category. */
export const AGGREGATES = {
  // Streams that grow with the tenant's activity are snapshotted; agent, service and task streams
  // hold a handful of events for their whole life, where a snapshot lookup would only cost a query.
  tenant: { category: 'tenant', decider: tenantDecider, snapshot: { every: 50, schemaVersion: 1 } },
  quota: { category: 'quota', decider: quotaDecider, snapshot: { every: 50, schemaVersion: 1 } },
  agent: { category: 'agent', decider: agentDecider },
  service: { category: 'service', decider: serviceDecider },
  task: { category: 'task', decider: taskDecider },
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

/** Commands with side effects beyond their stream (the service-name claim) are never prepared. */
const NOT_PREPARABLE = new Set(['RegisterService', 'DeregisterService']);

/**
 * Executes a domain command: load the aggregate (snapshot + tail), decide, append with the
 * expected version, retry on conflict. `RegisterService` first claims the agent name in
 * `service_names` (a unique key decides between concurrent sagas) in the same transaction.
 */
export class DomainCommandExecutor implements DomainCommandDispatcher {
  constructor(private readonly repository: AggregateRepository) {}

  async load(aggregate: AggregateName, id: string, tx?: PoolClient): Promise<{ state: any; version: number }> {
    const { state, version } = await this.repository.load(AGGREGATES[aggregate] as AggregateType<any, any, any>, id, { tx });
    return { state, version };
  }

  prepare(groups: DomainCommandEnvelope[][], tx?: PoolClient): Promise<(PreparedGroup | Error)[]> {
    const refused = groups.map((g) =>
      g.find((env) => !AGGREGATES[env.aggregate] || [env.command, ...(env.then ?? [])].some((c) => NOT_PREPARABLE.has(c.type))),
    );
    const requests = groups.map((g, i) =>
      refused[i]
        ? []
        : g.map((env) => ({
            type: AGGREGATES[env.aggregate] as AggregateType<any, any, any>,
            id: env.id,
            commands: [env.command, ...(env.then ?? [])],
            options: { tenantId: env.tenantId, commandId: env.commandId, metadata: env.metadata },
            ifExists: env.ifExists,
          })),
    );
    return this.repository.prepareAll(requests, { tx }).then((results) =>
      results.map((r, i) => (refused[i] ? new Error(`${refused[i]!.command.type} is dispatched on its own`) : r)),
    );
  }

  async dispatch(env: DomainCommandEnvelope): Promise<HandleResult<any, any>> {
    const type = AGGREGATES[env.aggregate] as AggregateType<any, any, any>;
    if (!type) throw new DomainError('UNKNOWN_AGGREGATE', `unknown aggregate ${env.aggregate}`);
    if (env.ifExists) {
      const current = await this.load(env.aggregate, env.id, env.tx);
      if (current.version < 0) return { events: [], state: current.state, version: current.version };
    }
    let command = env.command;
    if (env.aggregate === 'service' && command.type === 'RegisterService') {
      if (!env.tx) throw new Error('RegisterService needs a transaction (name claim and event commit together)');
      const taken = await claimServiceName(env.tx, env.tenantId, command.data.name, env.id);
      command = { ...command, data: { ...command.data, nameTakenByLiveAgent: taken } };
    }
    const result = await this.repository.handleAll(type, env.id, [command, ...(env.then ?? [])], {
      tenantId: env.tenantId,
      commandId: env.commandId,
      metadata: env.metadata,
      tx: env.tx,
    });
    if (env.aggregate === 'service' && command.type === 'DeregisterService' && env.tx) {
      await env.tx.query('delete from service_names where tenant_id = $1 and agent_id = $2', [env.tenantId, env.id]);
    }
    return result;
  }
}

/** True when another live agent of the tenant already holds the name. */
async function claimServiceName(tx: PoolClient, tenantId: string, name: string, agentId: string): Promise<boolean> {
  await tx.query(
    `insert into service_names (tenant_id, name, agent_id) values ($1, $2, $3) on conflict (tenant_id, name) do nothing`,
    [tenantId, name, agentId],
  );
  const { rows } = await tx.query<{ agent_id: string }>('select agent_id from service_names where tenant_id = $1 and name = $2', [
    tenantId,
    name,
  ]);
  return rows[0]?.agent_id !== agentId;
}
