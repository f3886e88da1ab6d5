import { Projection } from '../projection';
import { agentsProjection, servicesProjection, tasksProjection, tenantQuotasProjection } from './domain.projections';
import { compensationLogProjection, sagaSummariesProjection } from './saga.projections';

export * from './domain.projections';
export * from './saga.projections';
export * from './saga-stats';

/** Every read model of the platform. */
export function platformProjections(): Projection[] {
  return [
    sagaSummariesProjection(),
    compensationLogProjection,
    agentsProjection,
    tasksProjection,
    servicesProjection,
    tenantQuotasProjection,
  ];
}
