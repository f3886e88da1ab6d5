import { PoolClient } from 'pg';
import type { AgentFleet, ExternalWorkChanges, ExternalWorkQueue } from '@app/sagas';
import { deleteInstances, revokeAgentKeys } from './postgres/agent-instances';
import { applyQueueChanges, releaseInstanceLocks } from './postgres/agent-tasks';

/**
 * The executor's view of the agent task queue: rows written and settled inside saga transitions.
 * `onQueued` runs after the caller's commit is known to this process only through the executor's
 * afterCommit hook, so it is not called here; waiters are woken there (and by NOTIFY elsewhere).
 */
export class AgentTaskQueue implements ExternalWorkQueue {
  apply(tx: PoolClient, changes: ExternalWorkChanges): Promise<void> {
    return applyQueueChanges(tx, changes);
  }
}

/** What decommissioning does to the agent's instances, locks and keys (AgentDecommissioningSaga). */
export class AgentFleetTables implements AgentFleet {
  constructor(private readonly onStopped?: (agentId: string) => void) {}

  async stopInstances(tx: PoolClient, _tenantId: string, agentId: string): Promise<void> {
    await releaseInstanceLocks(tx, agentId);
    await deleteInstances(tx, agentId);
    this.onStopped?.(agentId);
  }

  async revokeKeys(tx: PoolClient, agentId: string): Promise<void> {
    await revokeAgentKeys(tx, agentId);
  }
}
