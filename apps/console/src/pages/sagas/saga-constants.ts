/** Saga types and statuses as the contract lists them (for filters and charts). */
export const SAGA_TYPES = ['task-workflow', 'agent-provisioning', 'agent-decommissioning'] as const;
export const SAGA_STATUSES = ['SCHEDULED', 'RUNNING', 'SUSPENDED', 'COMPLETED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED'] as const;
/** The statuses in which a saga waits for an operator. */
export const NEEDS_OPERATOR = ['COMPENSATION_FAILED', 'SUSPENDED'] as const;
