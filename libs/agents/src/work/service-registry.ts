import { randomUUID } from 'crypto';
import { Pool } from 'pg';
import type { DomainCommandDispatcher } from '@app/sagas';
import type { ServiceStatus } from '../agent-work.port';

/**
 * The agent's entry in the service registry (`service-<agentId>`), as health monitoring sees it:
 * its current status, and a change of it recorded as a `ServiceStatusChanged` event (from, to,
 * reason) that the integration relay publishes as `service.status_changed`.
 */
export class ServiceRegistry {
  constructor(
    private readonly commands: DomainCommandDispatcher,
    private readonly pool: Pool,
  ) {}

  /**
   * The registered (not deregistered) service of the agent, or undefined. Its status from its
   * stream; its registration time from the services read model (a lagging read model only
   * lengthens the grace of a service without instances).
   */
  async current(agentId: string): Promise<{ status: ServiceStatus; registeredAt?: Date } | undefined> {
    const { state } = await this.commands.load('service', agentId);
    if (state?.registration !== 'REGISTERED') return undefined;
    const { rows } = await this.pool.query<{ registered_at: Date }>('select registered_at from services where agent_id = $1', [agentId]);
    return { status: state.status, ...(rows[0] ? { registeredAt: rows[0].registered_at } : {}) };
  }

  /** Records a status change; a change already made (by another monitor or heartbeat) is a no-op. */
  async change(agent: { tenantId: string; agentId: string }, from: ServiceStatus, to: ServiceStatus, reason: string): Promise<void> {
    await this.commands.dispatch({
      aggregate: 'service',
      id: agent.agentId,
      tenantId: agent.tenantId,
      commandId: `service-status:${agent.agentId}:${from}->${to}:${randomUUID()}`,
      command: { type: 'ChangeServiceStatus', data: { status: to, reason } },
      metadata: { actor: 'agent-monitor' },
    });
  }
}
