import { DomainEvent } from '../decider';

export const WorkflowDefinitionEventType = {
  WorkflowVersionDefined: 'WorkflowVersionDefined',
} as const;

/**
 * What a version stores: the workflow as submitted (`tasks`, `maxParallel`, `onFailure`,
 * `description`), plain JSON. The domain keeps it as it is; the saga library validates and runs it.
 */
export type WorkflowDefinitionBody = { description?: string } & Record<string, unknown>;

/** A version of a definition was stored; it never changes afterwards. */
export type WorkflowVersionDefined = DomainEvent<
  'WorkflowVersionDefined',
  { tenantId: string; name: string; version: number; definition: WorkflowDefinitionBody; createdAt: string }
>;

export type WorkflowDefinitionEvent = WorkflowVersionDefined;
