import { BadRequestException, Type } from '@nestjs/common';
import { DomainCommandDispatcher, isDefinitionStart, resolveTaskWorkflowStart, SagaExecutor, SagaInputError } from '@app/sagas';
import { badRequest } from '../http/problem';
import { createValidationPipe } from '../http/validation';
import { StartAgentProvisioningDto } from '../sagas/start-agent-provisioning.dto';
import { StartTaskWorkflowDto } from '../sagas/start-task-workflow.dto';
import { SchedulableSagaType } from './schedules.dto';

/** The DTO each start route validates its body with. */
const START_DTOS: Record<SchedulableSagaType, Type<unknown>> = {
  'task-workflow': StartTaskWorkflowDto,
  'agent-provisioning': StartAgentProvisioningDto,
};

// The start routes' own pipe (same whitelist, same messages).
const pipe = createValidationPipe();

type FieldErrors = { field: string; message: string }[];
const underBody = (errors: FieldErrors): FieldErrors => errors.map((e) => ({ field: `body.${e.field}`, message: e.message }));

/**
 * Refuses (400) a schedule's start body that its start route would refuse: the route's DTO, then
 * the saga definition's own validation; a task workflow naming a stored definition is resolved
 * against the tenant's definitions (unknown definition or version: 400). The errors are the start's,
 * their fields under `body.`.
 */
export async function validateStartBody(
  executor: SagaExecutor,
  commands: DomainCommandDispatcher,
  tenantId: string,
  sagaType: SchedulableSagaType,
  body: Record<string, unknown>,
): Promise<void> {
  const fromDefinition = sagaType === 'task-workflow' && isDefinitionStart(body);
  if (!fromDefinition) {
    try {
      await pipe.transform(body, { type: 'body', metatype: START_DTOS[sagaType] });
    } catch (err) {
      if (!(err instanceof BadRequestException)) throw err;
      const { errors = [] } = err.getResponse() as { errors?: FieldErrors };
      throw badRequest(`body is not a valid ${sagaType} start`, underBody(errors));
    }
  }
  try {
    const input = sagaType === 'task-workflow' ? await resolveTaskWorkflowStart(commands, tenantId, body) : body;
    const problems = executor.definition(sagaType).validate(input as never);
    if (problems.length) throw new SagaInputError(problems);
  } catch (err) {
    if (err instanceof SagaInputError) throw badRequest('invalid saga input', underBody(err.problems));
    throw err;
  }
}
