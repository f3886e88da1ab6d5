import {
  StoredWorkflowVersion,
  WORKFLOW_DEFINITION_NAME_PATTERN,
  WorkflowDefinitionBody,
  WorkflowDefinitionState,
  workflowDefinitionId,
  workflowVersionOf,
} from '@app/domain';
import { EventMetadata } from '@app/event-store';
import { TaskWorkflowInput, validateWorkflow } from '../core/dag';
import { DomainCommandDispatcher } from '../domain-commands/domain-commands';
import { SagaInputError } from '../executor/start';

/** A stored definition as the store reads it: it exists, and it is the asking tenant's. */
export type StoredWorkflowDefinition = Extract<WorkflowDefinitionState, { status: 'DEFINED' }>;

export interface DefineWorkflowVersionRequest {
  tenantId: string;
  name: string;
  /** Absent: the latest + 1. */
  version?: number;
  /** `{ description?, maxParallel?, onFailure?, tasks }` as submitted (plain JSON). */
  body: WorkflowDefinitionBody;
  metadata?: Partial<EventMetadata>;
}

export interface DefinedWorkflowVersion {
  name: string;
  version: number;
  createdAt: string;
  /** False when this version was stored before with the same body (nothing was written). */
  created: boolean;
}

/**
 * Stores a version of a tenant's workflow definition after validating it exactly as a task-workflow
 * start is validated (cycles, handlers, references, duplicates: SagaInputError), except that
 * `{{ input.path }}` may be used. An existing version with another body: DomainError
 * WORKFLOW_VERSION_EXISTS; with the same body: that version, `created: false`.
 */
export async function defineWorkflowVersion(
  commands: DomainCommandDispatcher,
  knownHandlers: readonly string[],
  req: DefineWorkflowVersionRequest,
): Promise<DefinedWorkflowVersion> {
  const problems = validateWorkflow({ ...req.body, name: req.name } as unknown as TaskWorkflowInput, knownHandlers, { inputTemplates: true });
  if (problems.length) throw new SagaInputError(problems);
  const result = await commands.dispatch({
    aggregate: 'workflowdef',
    id: workflowDefinitionId(req.tenantId, req.name),
    tenantId: req.tenantId,
    metadata: req.metadata,
    command: {
      type: 'DefineWorkflowVersion',
      data: { tenantId: req.tenantId, name: req.name, ...(req.version !== undefined ? { version: req.version } : {}), definition: req.body, at: new Date().toISOString() },
    },
  });
  const version: number = result.events.length > 0 ? result.events[0].data.version : req.version!;
  const stored = workflowVersionOf(result.state as WorkflowDefinitionState, version)!;
  return { name: req.name, version, createdAt: stored.createdAt, created: result.events.length > 0 };
}

/** The tenant's definition `name` with all its versions, or undefined (unknown, or not this tenant's). */
export async function loadWorkflowDefinition(
  commands: Pick<DomainCommandDispatcher, 'load'>,
  tenantId: string,
  name: string,
): Promise<StoredWorkflowDefinition | undefined> {
  if (!WORKFLOW_DEFINITION_NAME_PATTERN.test(name)) return undefined;
  const { state } = (await commands.load('workflowdef', workflowDefinitionId(tenantId, name))) as { state: WorkflowDefinitionState };
  // The stream id already holds the tenant; the check guards against events not written by the platform.
  return state.status === 'DEFINED' && state.tenantId === tenantId && state.name === name ? state : undefined;
}

/** One version (the latest when `version` is absent) of the tenant's definition `name`, or undefined. */
export async function loadWorkflowVersion(
  commands: Pick<DomainCommandDispatcher, 'load'>,
  tenantId: string,
  name: string,
  version?: number,
): Promise<StoredWorkflowVersion | undefined> {
  const definition = await loadWorkflowDefinition(commands, tenantId, name);
  return definition && workflowVersionOf(definition, version);
}
