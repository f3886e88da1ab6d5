import { availableActions, failingStep, taskConfigOf } from './operator-actions';
import { buildTimeline, TimelineEventInput } from './timeline';

const t0 = Date.parse('2025-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
let version = 0;
const ev = (type: string, data: Record<string, unknown>, actor?: string): TimelineEventInput => ({
  version: version++,
  type,
  data,
  metadata: actor ? { actor } : {},
  recordedAt: String(data.at),
});

describe('saga timeline (folded from the saga events)', () => {
  // a and b succeed, c fails twice (a retry between), then b and a are compensated; a's compensation
  // fails for good, an operator skips it.
  const events = (() => {
    version = 0;
    return [
      ev('SagaStarted', { at: at(0) }),
      ev('StepStarted', { step: 'a', attempt: 1, at: at(0) }),
      ev('StepSucceeded', { step: 'a', attempt: 1, at: at(100) }),
      ev('StepStarted', { step: 'b', attempt: 1, at: at(100) }),
      ev('StepSucceeded', { step: 'b', attempt: 1, at: at(200) }),
      ev('StepStarted', { step: 'c', attempt: 1, at: at(200) }),
      ev('StepFailed', { step: 'c', attempt: 1, error: 'boom', final: false, at: at(250) }),
      ev('StepRetryScheduled', { step: 'c', nextAttempt: 2, dueAt: at(450), delayMs: 200, at: at(250) }),
      ev('StepStarted', { step: 'c', attempt: 2, at: at(450) }),
      ev('StepFailed', { step: 'c', attempt: 2, error: 'boom again', final: true, at: at(500) }),
      ev('CompensationStarted', { reason: 'step failed', failedStep: 'c', at: at(500) }),
      ev('StepCompensationStarted', { step: 'b', attempt: 1, at: at(500) }),
      ev('StepCompensated', { step: 'b', attempt: 1, at: at(550) }),
      ev('StepCompensationStarted', { step: 'a', attempt: 1, at: at(550) }),
      ev('StepCompensationFailed', { step: 'a', attempt: 1, error: 'refund down', final: true, at: at(600) }),
      ev('SagaCompensationFailed', { step: 'a', error: 'refund down', at: at(600) }),
      ev('CompensationSkipped', { step: 'a', actor: 'key:k1', reason: 'refunded by hand', at: at(900) }, 'key:k1'),
      ev('SagaCompensated', { at: at(950) }),
    ];
  })();

  it('has a bar per attempt with the wait between retries, and the errors', () => {
    const t = buildTimeline(events, t0 + 10_000);
    const c = t.rows.find((r) => r.step === 'c' && r.phase === 'forward')!;
    expect(c.segments.map((s) => [s.kind, s.attempt, s.outcome, s.to! - s.from])).toEqual([
      ['attempt', 1, 'failed', 50],
      ['retry-wait', 2, 'waiting', 200],
      ['attempt', 2, 'failed', 50],
    ]);
    expect(c.lastError).toBe('boom again');
  });

  it('lists compensations in the order they ran, the reverse of the steps', () => {
    const t = buildTimeline(events, t0 + 10_000);
    expect(t.compensationOrder).toEqual(['b', 'a']);
    const a = t.rows.find((r) => r.step === 'a' && r.phase === 'compensation')!;
    expect(a.segments.map((s) => s.outcome)).toEqual(['compensation-failed', 'skipped']);
    expect(a.lastError).toBe('refund down');
  });

  it("records the operator's skip with actor and reason, and ends at the terminal event", () => {
    const t = buildTimeline(events, t0 + 10_000);
    expect(t.actions).toEqual([expect.objectContaining({ type: 'CompensationSkipped', actor: 'key:k1', reason: 'refunded by hand', step: 'a' })]);
    expect(t.finished).toBe(true);
    expect(t.end).toBe(t0 + 950);
  });

  it('lets a running saga grow to now', () => {
    const t = buildTimeline(events.slice(0, 4), t0 + 5_000);
    expect(t.finished).toBe(false);
    expect(t.end).toBe(t0 + 5_000);
    expect(t.rows.find((r) => r.step === 'b')!.segments[0].outcome).toBe('running');
  });
});

describe('operator buttons', () => {
  it('follow the status and need the operator role', () => {
    expect(availableActions('COMPENSATION_FAILED', 'operator')).toEqual(['skip', 'retry']);
    expect(availableActions('SUSPENDED', 'admin')).toEqual(['resume', 'compensate', 'cancel']);
    expect(availableActions('RUNNING', 'operator')).toEqual(['cancel']);
    expect(availableActions('COMPENSATED', 'admin')).toEqual([]);
    expect(availableActions('COMPENSATION_FAILED', 'client')).toEqual([]);
    expect(availableActions('SUSPENDED', 'client')).toEqual([]);
  });

  it('point at the failing step and the config a resume starts from', () => {
    const steps = [
      { name: 'a', status: 'COMPENSATION_FAILED', error: 'refund down' },
      { name: 'b', status: 'FAILED', error: 'declined', finishedAt: at(5) },
    ];
    expect(failingStep('COMPENSATION_FAILED', steps)?.name).toBe('a');
    expect(failingStep('SUSPENDED', steps)?.error).toBe('declined');
    expect(taskConfigOf({ tasks: [{ id: 'b', config: { amount: 3 } }] }, 'b')).toEqual({ amount: 3 });
    expect(taskConfigOf({ agent: {} }, 'b')).toBeUndefined();
  });
});
