import { Pool } from 'pg';
import { AggregateRepository, PostgresEventStore } from '@app/event-store';
import { DomainCommandExecutor } from '../domain-commands/domain-command-executor';
import { SagaExecutor } from '../executor/saga-executor';
import { SagaExecutorOptions } from '../executor/executor.types';
import { AgentProvisioningSaga } from '../definitions/agent-provisioning.saga';
import { TaskWorkflowSaga } from '../definitions/task-workflow.saga';
import { TaskHandlerRegistry } from '../tasks/task-handler';
import { registerBuiltinHandlers } from '../tasks/builtin-handlers';

/** Wires an executor with both saga types on a pool (for tests, benchmarks and the apps). */
export function createSagaRuntime(pool: Pool, options: SagaExecutorOptions & { handlers?: TaskHandlerRegistry } = {}) {
  const store = new PostgresEventStore(pool);
  const repository = new AggregateRepository(store);
  const commands = new DomainCommandExecutor(repository);
  const handlers = options.handlers ?? registerBuiltinHandlers(new TaskHandlerRegistry());
  const executor = new SagaExecutor(
    pool,
    store,
    [new AgentProvisioningSaga(commands, handlers), new TaskWorkflowSaga(commands, handlers)],
    options,
  );
  return { store, repository, commands, handlers, executor };
}
