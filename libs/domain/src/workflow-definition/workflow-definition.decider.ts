import { Decider, DomainError } from '../decider';
import { WorkflowDefinitionCommand } from './workflow-definition.commands';
import { WorkflowDefinitionBody, WorkflowDefinitionEvent } from './workflow-definition.events';

export interface StoredWorkflowVersion {
  version: number;
  createdAt: string;
  definition: WorkflowDefinitionBody;
}

export type WorkflowDefinitionState =
  | { status: 'NONE' }
  | { status: 'DEFINED'; tenantId: string; name: string; latestVersion: number; versions: StoredWorkflowVersion[] };

export const WORKFLOW_DEFINITION_NAME_PATTERN = /^[a-z0-9-]{1,100}$/;
/** Versions are PostgreSQL integers in the read model. */
export const MAX_WORKFLOW_VERSION = 2_147_483_647;

/**
 * Names are per tenant, so the aggregate id is `<tenantId>.<name>` (stream
 * `workflowdef-<tenantId>.<name>`): tenant ids and names are `[a-z0-9-]`, so the dot cannot be
 * part of either and two tenants' definitions of one name never share a stream.
 */
export const workflowDefinitionId = (tenantId: string, name: string): string => `${tenantId}.${name}`;
export const workflowDefinitionStreamId = (tenantId: string, name: string): string => `workflowdef-${workflowDefinitionId(tenantId, name)}`;

/** `version` of a stored definition, or its latest when `version` is absent; undefined when there is none. */
export function workflowVersionOf(state: WorkflowDefinitionState, version?: number): StoredWorkflowVersion | undefined {
  if (state.status !== 'DEFINED') return undefined;
  return state.versions.find((v) => v.version === (version ?? state.latestVersion));
}

/** The same JSON value, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => sameJson(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const invalid = (message: string, details: Record<string, unknown>) => new DomainError('INVALID_WORKFLOW_DEFINITION', message, details);

/**
 * A tenant's named, versioned workflow definition. Versions are immutable: storing a version again
 * with the same body is a retry (nothing is written), with another body a conflict.
 */
export const workflowDefinitionDecider: Decider<WorkflowDefinitionState, WorkflowDefinitionCommand, WorkflowDefinitionEvent> = {
  initialState: () => ({ status: 'NONE' }),

  evolve(state, event) {
    switch (event.type) {
      case 'WorkflowVersionDefined': {
        const { tenantId, name, version, definition, createdAt } = event.data;
        const previous = state.status === 'DEFINED' ? state.versions : [];
        const versions = [...previous.filter((v) => v.version !== version), { version, createdAt, definition }].sort((a, b) => a.version - b.version);
        return { status: 'DEFINED', tenantId, name, latestVersion: versions[versions.length - 1].version, versions };
      }
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'DefineWorkflowVersion': {
        const { tenantId, name, definition, at } = command.data;
        if (!WORKFLOW_DEFINITION_NAME_PATTERN.test(name)) throw invalid(`name must match ${WORKFLOW_DEFINITION_NAME_PATTERN.source}`, { name });
        const latest = state.status === 'DEFINED' ? state.latestVersion : 0;
        const version = command.data.version ?? latest + 1;
        if (!Number.isSafeInteger(version) || version < 1 || version > MAX_WORKFLOW_VERSION) {
          throw invalid(`version must be an integer from 1 to ${MAX_WORKFLOW_VERSION}`, { name, version });
        }
        const existing = workflowVersionOf(state, version);
        if (existing) {
          if (sameJson(existing.definition, definition)) return [];
          throw new DomainError('WORKFLOW_VERSION_EXISTS', `version ${version} of workflow definition ${name} exists with another body; versions never change`, {
            name,
            version,
          });
        }
        return [{ type: 'WorkflowVersionDefined', data: { tenantId, name, version, definition: { ...definition }, createdAt: at } }];
      }
    }
  },
};
