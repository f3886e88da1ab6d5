import { PoolClient } from 'pg';
import { DomainError } from '@app/domain';
import { AggregateRepository, AggregateType, HandleResult, PreparedGroup } from '@app/event-store';
import { AGGREGATES, AggregateName, DomainCommandDispatcher, DomainCommandEnvelope } from './domain-commands';
import { claimServiceName, releaseServiceNames } from './postgres/service-names';

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
      const claimed = await claimServiceName(env.tx, env.tenantId, command.data.name, env.id);
      command = { ...command, data: { ...command.data, nameTakenByLiveAgent: !claimed } };
    }
    const result = await this.repository.handleAll(type, env.id, [command, ...(env.then ?? [])], {
      tenantId: env.tenantId,
      commandId: env.commandId,
      metadata: env.metadata,
      tx: env.tx,
    });
    if (env.aggregate === 'service' && command.type === 'DeregisterService' && env.tx) {
      await releaseServiceNames(env.tx, env.tenantId, env.id);
    }
    return result;
  }
}
