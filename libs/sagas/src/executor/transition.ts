import { AppendResult, EventMetadata, RecordedEvent, StreamAppend, eventIdFor } from '@app/event-store';
import { nextWork } from '../core/next-work';
import { foldSagaEvents } from '../core/saga.decider';
import { SagaState, isTerminalSagaStatus } from '../core/saga.state';
import { sagaStreamId } from '../core/saga.types';
import { Committed, Transition } from './executor.types';
import { WorkChanges } from './postgres/saga-work';
import { contentHash } from './stable-json';

/**
 * What a transition writes, computed without I/O: the saga stream's append, the state it leads
 * to, the pending-work changes that state implies, and the events as recorded.
 */

/** The saga's state after the transition's events. */
export function stateAfter(t: Transition): SagaState {
  return foldSagaEvents(t.events, t.loaded.state);
}

/** The append of a transition to the saga's stream (expected version = the loaded one). */
export function sagaAppend(t: Transition, workerId: string): StreamAppend {
  const { sagaId, loaded, events, metadata } = t;
  // Ids derive from the version AND the content: two different decisions taken at the same
  // version (parallel outcomes) conflict on the expected version, not on the event ids, while
  // re-sending the very same decision is an idempotent replay.
  const commandId = `${sagaId}@${loaded.version + 1}:${contentHash(events).slice(0, 32)}`;
  return {
    streamId: sagaStreamId(sagaId),
    events: events.map((e, i) => ({ eventId: eventIdFor(commandId, i), type: e.type, data: e.data })),
    expectedVersion: loaded.version,
    tenantId: t.tenantId,
    // Every transition carries the correlation id of the request that started the saga, and is
    // caused by the saga's previous event.
    metadata: {
      correlationId: loaded.state.correlationId,
      causationId: loaded.version >= 0 ? `${sagaStreamId(sagaId)}@${loaded.version}` : undefined,
      ...metadata,
      actor: metadata?.actor ?? `worker:${workerId}`,
    },
  };
}

/**
 * The changes to the pending-work rows that transitions to `state` imply, in saga-id order (the
 * order lease renewal locks them in: concurrent commits and renewals cannot deadlock). A terminal
 * saga's row goes; otherwise the row is due when the saga next has something to do, never later
 * than the lease: if this worker dies, another one resumes the saga once the lease has expired,
 * not only at the step's timeout (a live owner renews its lease). No change while we hold the saga
 * and the row is already due early enough (see HeldSaga.dueAtMs).
 */
export function workChanges(transitions: { t: Transition; state: SagaState }[], leaseMs: number, now = new Date()): WorkChanges {
  const changes: WorkChanges = { schedule: [], remove: [] };
  for (const { t, state } of transitions) {
    if (isTerminalSagaStatus(state.status)) {
      changes.remove.push(t.sagaId);
      continue;
    }
    // An outcome reported from outside (an agent) may have started in-process steps: due now.
    const dueAt = t.dueNow ? now : dueAtOf(state, leaseMs, now);
    if (t.held && dueAt.getTime() >= t.held.dueAtMs) continue;
    changes.schedule.push({ sagaId: t.sagaId, tenantId: t.tenantId, sagaType: state.sagaType, dueAt });
    if (t.dueNow) (changes.poke ??= []).push(t.sagaId);
  }
  changes.schedule.sort((x, y) => (x.sagaId < y.sagaId ? -1 : x.sagaId > y.sagaId ? 1 : 0));
  changes.remove.sort();
  return changes;
}

function dueAtOf(state: SagaState, leaseMs: number, now: Date): Date {
  const work = nextWork(state, now);
  if (work.actions.length) return now;
  const leaseEnd = now.getTime() + leaseMs;
  return new Date(Math.min(work.nextDueAt ? Date.parse(work.nextDueAt) : leaseEnd, leaseEnd));
}

/** The committed transition: `state` (the state after it) and the events as recorded (for hooks and live updates). */
export function committedTransition(t: Transition, append: StreamAppend, result: AppendResult, state: SagaState): Committed {
  const recordedAt = new Date();
  const n = append.events.length;
  const recorded: RecordedEvent[] = append.events.map((e, i) => ({
    eventId: e.eventId!,
    streamId: append.streamId,
    version: result.firstVersion + i,
    globalPosition: result.globalPosition - (n - 1 - i),
    type: e.type,
    schemaVersion: 1,
    data: e.data,
    metadata: { ...t.metadata, tenantId: t.tenantId } as EventMetadata,
    recordedAt,
  }));
  return { state, version: result.nextExpectedVersion, recorded };
}

/** Held sagas remember the effects their own commits started (see HeldSaga.startedHere). */
export function effectsStarted(t: Transition): string[] {
  const keys: string[] = [];
  for (const e of t.events) {
    if (e.type === 'StepStarted') keys.push(`${e.data.step}:run:${e.data.attempt}`);
    if (e.type === 'StepCompensationStarted') keys.push(`${e.data.step}:compensate:${e.data.attempt}`);
  }
  return keys;
}
