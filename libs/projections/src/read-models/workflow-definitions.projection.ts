import { RecordedEvent } from '@app/event-store';
import { WorkflowDefinitionEventType, WorkflowVersionDefined } from '@app/domain';
import { defineRowProjection, Row } from '../row-projection';

/**
 * `workflow_definitions`: one row per tenant and definition name, with its latest version and that
 * version's description (the list of definitions; a definition's versions are read from its stream).
 */
export const workflowDefinitionsProjection = defineRowProjection({
  name: 'workflow_definitions',
  table: 'workflow_definitions',
  key: ['tenant_id', 'name'],
  eventTypes: Object.values(WorkflowDefinitionEventType),
  keys: (e) => {
    const d = e.data as WorkflowVersionDefined['data'];
    return [{ tenant_id: d.tenantId ?? e.metadata.tenantId, name: d.name }];
  },
  evolve(row, e: RecordedEvent): Row {
    const d = e.data as WorkflowVersionDefined['data'];
    const at = d.createdAt ?? e.recordedAt.toISOString();
    // A version stored below the latest (an explicit older number) changes only the update time.
    const latest = !row || d.version >= Number(row.latest_version);
    return {
      ...(row ?? { created_at: at }),
      latest_version: latest ? d.version : row!.latest_version,
      description: latest ? d.definition?.description ?? null : row!.description,
      updated_at: at,
    };
  },
});
