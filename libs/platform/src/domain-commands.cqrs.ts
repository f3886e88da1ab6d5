import { Injectable } from '@nestjs/common';
import { Command, CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { PoolClient } from 'pg';
import { HandleResult, PreparedGroup } from '@app/event-store';
import { AggregateName, DomainCommandDispatcher, DomainCommandEnvelope, DomainCommandExecutor } from '@app/sagas';

/** A domain command on the CommandBus: load the aggregate, decide, append (retrying on conflict). */
export class ExecuteDomainCommand extends Command<HandleResult<any, any>> {
  constructor(readonly envelope: DomainCommandEnvelope) {
    super();
  }
}

@CommandHandler(ExecuteDomainCommand)
export class ExecuteDomainCommandHandler implements ICommandHandler<ExecuteDomainCommand> {
  constructor(private readonly executor: DomainCommandExecutor) {}

  execute(command: ExecuteDomainCommand): Promise<HandleResult<any, any>> {
    return this.executor.dispatch(command.envelope);
  }
}

/** The sagas' DomainCommandDispatcher port, routed through the CQRS CommandBus. */
@Injectable()
export class CommandBusDispatcher implements DomainCommandDispatcher {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly executor: DomainCommandExecutor,
  ) {}

  dispatch(envelope: DomainCommandEnvelope): Promise<HandleResult<any, any>> {
    return this.commandBus.execute(new ExecuteDomainCommand(envelope));
  }

  load(aggregate: AggregateName, id: string, tx?: PoolClient): Promise<{ state: any; version: number }> {
    return this.executor.load(aggregate, id, tx);
  }

  /**
   * The executor's group commit decides with the same deciders without the bus (nothing is written
   * here); a group it cannot commit together goes through dispatch(), i.e. the bus, one by one.
   */
  prepare(groups: DomainCommandEnvelope[][], tx?: PoolClient): Promise<(PreparedGroup | Error)[]> {
    return this.executor.prepare(groups, tx);
  }
}
