import { StartSaga } from './saga.commands';
import { SagaError } from './saga.errors';
import { SagaEvent } from './saga.events';
import { SagaState } from './saga.state';
import { SAGA_TYPES, SagaPlan, sagaIdentityOf } from './saga.types';
import { toIso } from './time';

/** What is wrong with `plan`: none when a saga can run it. */
export function validatePlan(plan: SagaPlan): string[] {
  const problems: string[] = [];
  if (!plan || !Array.isArray(plan.steps)) return ['plan.steps must be an array'];
  if (!SAGA_TYPES.includes(plan.sagaType)) problems.push(`unknown saga type ${String(plan.sagaType)}`);
  if (!Number.isInteger(plan.maxParallel) || plan.maxParallel < 1) problems.push('maxParallel must be a positive integer');
  if (plan.steps.length === 0) problems.push('plan has no steps');
  const names = new Set<string>();
  for (const step of plan.steps) {
    if (typeof step.name !== 'string' || step.name === '') problems.push('step without a name');
    else if (names.has(step.name)) problems.push(`duplicate step ${step.name}`);
    names.add(step.name);
    if (!(step.timeoutMs > 0)) problems.push(`step ${step.name}: timeoutMs must be positive`);
    if (!(step.retry?.maxAttempts >= 1)) problems.push(`step ${step.name}: retry.maxAttempts must be at least 1`);
    if (step.compensation) {
      if (!(step.compensation.timeoutMs > 0)) problems.push(`step ${step.name}: compensation.timeoutMs must be positive`);
      if (!(step.compensation.retry?.maxAttempts >= 1)) {
        problems.push(`step ${step.name}: compensation.retry.maxAttempts must be at least 1`);
      }
    }
  }
  for (const step of plan.steps) {
    for (const dep of step.dependsOn ?? []) {
      if (!names.has(dep)) problems.push(`step ${step.name} depends on unknown step ${dep}`);
    }
  }
  return problems;
}

export function startSaga(command: StartSaga, state: SagaState): SagaEvent[] {
  if (state.status !== 'NOT_STARTED') {
    throw new SagaError('SAGA_EXISTS', `saga ${state.sagaId} already started`, { sagaId: state.sagaId });
  }
  const d = command.data;
  const problems = validatePlan(d.plan);
  if (problems.length > 0) throw new SagaError('INVALID_PLAN', problems.join('; '), { problems });
  if (d.plan.sagaType !== d.sagaType) {
    throw new SagaError('INVALID_PLAN', `plan is for ${d.plan.sagaType}, saga is ${d.sagaType}`);
  }
  // An empty correlation id is no correlation id.
  const identity = sagaIdentityOf({ ...d, correlationId: d.correlationId || undefined });
  const at = toIso(d.at);
  const started: SagaEvent = { type: 'SagaStarted', data: { ...identity, at } };
  // A start time still ahead: the saga waits for it, SCHEDULED.
  if (identity.startAt !== undefined && Date.parse(identity.startAt) > Date.parse(at)) {
    return [started, { type: 'SagaScheduled', data: { startAt: identity.startAt, at } }];
  }
  return [started];
}
