/**
 * The timeline of one saga, folded from its own events (GET /v1/sagas/{id}/events, then the live
 * stream): a bar per step attempt in time, the waits between retries, the compensations in the
 * order they ran (the reverse of the steps), and the operators' actions with actor and reason.
 * Pure: the page renders what this returns. The contract types event `data` as an open object, so
 * the fields read here are the documented saga events of DESIGN.md, each read defensively.
 */

export interface TimelineEventInput {
  version: number;
  type: string;
  data: Record<string, unknown>;
  metadata?: { actor?: string };
  recordedAt: string;
}

export type SegmentOutcome = 'running' | 'succeeded' | 'failed' | 'waiting' | 'compensated' | 'compensation-failed' | 'skipped';

export interface Segment {
  kind: 'attempt' | 'retry-wait' | 'compensation';
  attempt: number;
  from: number;
  /** Absent while running. */
  to?: number;
  outcome: SegmentOutcome;
  error?: string;
  code?: string;
}

export interface TimelineRow {
  step: string;
  phase: 'forward' | 'compensation';
  segments: Segment[];
  /** The last failure of the row (what an operator reads first). */
  lastError?: string;
}

export interface OperatorAction {
  version: number;
  type: string;
  label: string;
  at: number;
  actor?: string;
  reason?: string;
  step?: string;
}

export interface Milestone {
  version: number;
  type: string;
  label: string;
  at: number;
}

export interface Timeline {
  start: number;
  end: number;
  rows: TimelineRow[];
  /** Steps in the order their compensation started: the reverse of the order they completed. */
  compensationOrder: string[];
  actions: OperatorAction[];
  milestones: Milestone[];
  finished: boolean;
}

const TERMINAL = new Set(['SagaCompleted', 'SagaCompensated', 'SagaCompensationFailed']);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function timeOf(e: TimelineEventInput): number {
  const at = Date.parse(str(e.data.at) ?? '');
  return Number.isFinite(at) ? at : Date.parse(e.recordedAt);
}

export function buildTimeline(events: readonly TimelineEventInput[], now: number): Timeline {
  const sorted = [...events].sort((a, b) => a.version - b.version);
  const forward = new Map<string, TimelineRow>();
  const compensation = new Map<string, TimelineRow>();
  const actions: OperatorAction[] = [];
  const milestones: Milestone[] = [];
  let start = sorted.length ? timeOf(sorted[0]) : now;
  let last = start;

  const row = (rows: Map<string, TimelineRow>, step: string, phase: TimelineRow['phase']): TimelineRow => {
    let r = rows.get(step);
    if (!r) {
      r = { step, phase, segments: [] };
      rows.set(step, r);
    }
    return r;
  };
  const open = (r: TimelineRow, kind: Segment['kind']): Segment | undefined =>
    [...r.segments].reverse().find((s) => s.kind === kind && s.outcome === 'running');
  const close = (r: TimelineRow, kind: Segment['kind'], at: number, attempt: number, outcome: SegmentOutcome, error?: string, code?: string) => {
    const s = open(r, kind);
    if (s) {
      s.to = at;
      s.outcome = outcome;
      s.error = error;
      s.code = code;
    } else {
      r.segments.push({ kind, attempt, from: at, to: at, outcome, error, code });
    }
    if (error) r.lastError = error;
  };
  const action = (e: TimelineEventInput, at: number, label: string, step?: string) =>
    actions.push({
      version: e.version,
      type: e.type,
      label,
      at,
      actor: str(e.data.actor) ?? e.metadata?.actor,
      reason: str(e.data.reason),
      step: step ?? str(e.data.step),
    });

  for (const e of sorted) {
    const at = timeOf(e);
    last = Math.max(last, at);
    const step = str(e.data.step) ?? '?';
    const attempt = num(e.data.attempt) ?? 1;
    switch (e.type) {
      case 'SagaStarted':
        start = Math.min(start, at);
        break;
      case 'StepStarted':
        row(forward, step, 'forward').segments.push({ kind: 'attempt', attempt, from: at, outcome: 'running' });
        break;
      case 'StepSucceeded':
        close(row(forward, step, 'forward'), 'attempt', at, attempt, 'succeeded');
        break;
      case 'StepFailed':
        close(row(forward, step, 'forward'), 'attempt', at, attempt, 'failed', str(e.data.error), str(e.data.code));
        break;
      case 'StepRetryScheduled': {
        const due = Date.parse(str(e.data.dueAt) ?? '');
        row(forward, step, 'forward').segments.push({
          kind: 'retry-wait',
          attempt: num(e.data.nextAttempt) ?? attempt + 1,
          from: at,
          to: Number.isFinite(due) ? due : at,
          outcome: 'waiting',
        });
        if (Number.isFinite(due)) last = Math.max(last, due);
        break;
      }
      case 'StepCompensationStarted':
        row(compensation, step, 'compensation').segments.push({ kind: 'compensation', attempt, from: at, outcome: 'running' });
        break;
      case 'StepCompensated':
        close(row(compensation, step, 'compensation'), 'compensation', at, attempt, 'compensated');
        break;
      case 'StepCompensationFailed': {
        const r = row(compensation, step, 'compensation');
        close(r, 'compensation', at, attempt, 'compensation-failed', str(e.data.error));
        const retryAt = Date.parse(str(e.data.retryAt) ?? '');
        if (Number.isFinite(retryAt)) r.segments.push({ kind: 'retry-wait', attempt: attempt + 1, from: at, to: retryAt, outcome: 'waiting' });
        break;
      }
      case 'CompensationSkipped':
        row(compensation, step, 'compensation').segments.push({ kind: 'compensation', attempt, from: at, to: at, outcome: 'skipped' });
        action(e, at, `skipped the compensation of ${step}`);
        break;
      case 'CompensationRetried':
        action(e, at, 'retried the compensation');
        break;
      case 'SagaCancelRequested':
        action(e, at, 'cancelled the saga');
        break;
      case 'SagaResumed':
        action(e, at, `resumed ${str(e.data.step) ?? 'the saga'}${e.data.config !== undefined ? ' with a new config' : ''}`);
        break;
      case 'CompensationStarted':
        // With an actor it is an operator's "compensate"; otherwise the platform's reaction to a failure.
        if (str(e.data.actor)) action(e, at, 'started the compensation', str(e.data.failedStep));
        else milestones.push({ version: e.version, type: e.type, label: `compensation started${str(e.data.failedStep) ? ` (${str(e.data.failedStep)} failed)` : ''}`, at });
        break;
      case 'SagaSuspended':
        milestones.push({ version: e.version, type: e.type, label: `suspended: ${step} failed`, at });
        break;
      case 'SagaScheduled':
        milestones.push({ version: e.version, type: e.type, label: `scheduled for ${str(e.data.startAt) ?? '?'}`, at });
        break;
      case 'SignalReceived':
        milestones.push({ version: e.version, type: e.type, label: `signal ${str(e.data.name) ?? '?'}`, at });
        break;
      case 'SagaCompleted':
        milestones.push({ version: e.version, type: e.type, label: 'completed', at });
        break;
      case 'SagaCompensated':
        milestones.push({ version: e.version, type: e.type, label: e.data.rolledBack ? 'rolled back' : 'compensated', at });
        break;
      case 'SagaCompensationFailed':
        milestones.push({ version: e.version, type: e.type, label: `compensation of ${step} failed for good`, at });
        break;
      default:
        break;
    }
  }
  const lastType = sorted.length ? sorted[sorted.length - 1].type : undefined;
  const finished = lastType !== undefined && TERMINAL.has(lastType);
  // A live saga's bars grow to "now"; a finished one's timeline ends at its last event.
  const end = Math.max(finished ? last : Math.max(last, now), start + 1);
  return {
    start,
    end,
    rows: [...forward.values(), ...compensation.values()],
    compensationOrder: [...compensation.keys()],
    actions,
    milestones,
    finished,
  };
}

/** Where a time falls on the timeline, in percent of its width. */
export function percentAt(t: Timeline, at: number): number {
  return Math.min(100, Math.max(0, ((at - t.start) / (t.end - t.start)) * 100));
}
