import { Projection } from '../projection';
import { agentsProjection, servicesProjection, tasksProjection, tenantQuotasProjection } from './domain.projections';
import { compensationLogProjection, sagaSummariesProjection } from './saga.projections';
import { workflowDefinitionsProjection } from './workflow-definitions.projection';
import { schedulesProjection } from './schedules.projection';

export * from './domain.projections';
export * from './saga.projections';
export * from './saga-stats';
export * from './workflow-definitions.projection';
export * from './schedules.projection';

/** Every read model of the platform. */
export function platformProjections(): Projection[] {
  return [
    sagaSummariesProjection(),
    compensationLogProjection,
    agentsProjection,
    tasksProjection,
    servicesProjection,
    tenantQuotasProjection,
    workflowDefinitionsProjection,
    schedulesProjection,
  ];
}
