import { DomainCommand } from '../decider';
import { WorkflowDefinitionBody } from './workflow-definition.events';

/**
 * Stores `definition` as `version` of the tenant's definition `name` (absent: the latest + 1).
 * `at` (ISO 8601) is the version's creation time: the decider does not read the clock.
 */
export type DefineWorkflowVersion = DomainCommand<
  'DefineWorkflowVersion',
  { tenantId: string; name: string; version?: number; definition: WorkflowDefinitionBody; at: string }
>;

export type WorkflowDefinitionCommand = DefineWorkflowVersion;
