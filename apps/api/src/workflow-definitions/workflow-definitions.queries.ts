import { Pool } from 'pg';
import { equals, keysetPage, KeysetSpec, PageQuery } from '../http/keyset-page';
import { WorkflowDefinitionPageDto, WorkflowDefinitionSummaryDto } from './workflow-definitions.dto';

interface DefinitionRow extends Record<string, unknown> {
  tenant_id: string;
  name: string;
  latest_version: number;
  description: string | null;
  updated_at: Date;
}

// By name; the tenant breaks ties in the admin key's list of every tenant's definitions.
const DEFINITIONS: KeysetSpec = { table: 'workflow_definitions', keys: [['name', 'text'], ['tenant_id', 'text']], direction: 'asc' };

const toSummary = (r: DefinitionRow): WorkflowDefinitionSummaryDto => ({
  name: r.name,
  latestVersion: r.latest_version,
  ...(r.description !== null ? { description: r.description } : {}),
  updatedAt: r.updated_at.toISOString(),
});

/** A page of the workflow_definitions read model, scoped to a tenant unless `tenantId` is undefined (the admin key). */
export function workflowDefinitionsPage(pool: Pick<Pool, 'query'>, q: PageQuery & { tenantId?: string }): Promise<WorkflowDefinitionPageDto> {
  return keysetPage(pool, DEFINITIONS, equals('tenant_id', q.tenantId), q, toSummary);
}
