import { Pool } from 'pg';
import { AggregateRepository, PostgresEventStore } from '@app/event-store';
import {
  AgentProvisioningSaga,
  DomainCommandExecutor,
  registerBuiltinHandlers,
  SagaExecutor,
  SagaExecutorOptions,
  TaskHandlerRegistry,
  TaskWorkflowSaga,
} from '@app/sagas';

/** An executor with both saga types on a pool, built from the libs' public exports (as the apps do). */
export function createSagaRuntime(pool: Pool, options: SagaExecutorOptions = {}) {
  const store = new PostgresEventStore(pool);
  const commands = new DomainCommandExecutor(new AggregateRepository(store));
  const handlers = registerBuiltinHandlers(new TaskHandlerRegistry());
  const executor = new SagaExecutor(pool, store, [new AgentProvisioningSaga(commands, handlers), new TaskWorkflowSaga(commands, handlers)], options);
  return { store, commands, executor };
}

export type SagaRuntime = ReturnType<typeof createSagaRuntime>;

/** A tenant with a quota large enough for the spec's agents. */
export async function createTenant(runtime: SagaRuntime, tenantId: string, allowedPermissions = ['read', 'write']): Promise<void> {
  const quota = { cpuMillis: 1_000_000, memoryMb: 1_000_000 };
  await runtime.commands.dispatch({
    aggregate: 'tenant',
    id: tenantId,
    tenantId,
    command: { type: 'CreateTenant', data: { tenantId, name: tenantId, quota, allowedPermissions } },
  });
  await runtime.commands.dispatch({ aggregate: 'quota', id: tenantId, tenantId, command: { type: 'SetQuota', data: quota } });
}

export interface AgentOptions {
  /** A permission the tenant does not allow: the saga fails at grant-permissions and compensates. */
  forbiddenPermission?: boolean;
  /** Handler and config of the initial task (run-initial-task). */
  initialTask?: { handler: string; config?: Record<string, unknown> };
}

/** Starts an AgentProvisioningSaga for a uniquely named agent; returns its saga id. */
export async function startAgentProvisioning(executor: SagaExecutor, tenantId: string, name: string, options: AgentOptions = {}): Promise<string> {
  const { sagaId } = await executor.start({
    tenantId,
    sagaType: 'agent-provisioning',
    input: {
      agent: {
        name,
        type: 'llm',
        capabilities: ['chat'],
        permissions: options.forbiddenPermission ? ['read', 'admin'] : ['read'],
        resources: { cpuMillis: 10, memoryMb: 16 },
        ...(options.initialTask ? { initialTask: { name: `${name}-smoke`, ...options.initialTask } } : {}),
      },
    },
  });
  return sagaId;
}

export async function sagaStatus(executor: SagaExecutor, sagaId: string): Promise<string | undefined> {
  return (await executor.load(sagaId))?.state.status;
}

/** Ends the spec's pools, waits until their connections are closed, drops the database. */
export { dropTestDatabase } from '@app/database';
