/**
 * Which operator buttons a saga page shows: those the saga's status allows (API.md: retry and skip
 * only for COMPENSATION_FAILED; cancel for SCHEDULED, RUNNING, SUSPENDED; resume and compensate
 * only for SUSPENDED) and the key's role allows (all of them need operator). Pure.
 */
export type Role = 'client' | 'operator' | 'admin';
export type SagaAction = 'retry' | 'skip' | 'cancel' | 'resume' | 'compensate';

export const ROLE_RANK: Record<Role, number> = { client: 0, operator: 1, admin: 2 };

const BY_STATUS: Record<string, SagaAction[]> = {
  COMPENSATION_FAILED: ['skip', 'retry'],
  SUSPENDED: ['resume', 'compensate', 'cancel'],
  SCHEDULED: ['cancel'],
  RUNNING: ['cancel'],
};

export function availableActions(status: string, role: Role): SagaAction[] {
  if (ROLE_RANK[role] < ROLE_RANK.operator) return [];
  return BY_STATUS[status] ?? [];
}

interface StepLike {
  name: string;
  status: string;
  error?: string;
  errorCode?: string;
  finishedAt?: string;
}

/**
 * The step an operator has to look at: the compensation that failed for good (COMPENSATION_FAILED)
 * or the step that failed for good (SUSPENDED), with its error.
 */
export function failingStep(status: string, steps: readonly StepLike[]): StepLike | undefined {
  if (status === 'COMPENSATION_FAILED') return steps.find((s) => s.status === 'COMPENSATION_FAILED');
  if (status === 'SUSPENDED') {
    const failed = steps.filter((s) => s.status === 'FAILED');
    return failed.sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? ''))[0];
  }
  return undefined;
}

/** The config a resume starts from: the task's config in a task-workflow's input, if it has one. */
export function taskConfigOf(input: unknown, step: string): unknown {
  if (!input || typeof input !== 'object') return undefined;
  const tasks = (input as { tasks?: unknown }).tasks;
  if (!Array.isArray(tasks)) return undefined;
  const task = tasks.find((t) => t && typeof t === 'object' && (t as { id?: unknown }).id === step) as { config?: unknown } | undefined;
  return task?.config;
}
