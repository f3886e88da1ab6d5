import { RecordedEvent } from '@app/event-store';
import { nextFireTime, Schedule, ScheduleEvent, ScheduleEventType, ScheduleState, scheduleDecider } from '@app/domain';
import { defineRowProjection, Row } from '../row-projection';

/**
 * `schedules`: one row per live schedule of a tenant (a deletion removes it), the schedule folded
 * with the decider's own `evolve` and kept in `state`; `next_fire_at` and `pending_fire_at` are the
 * scheduler's index of what is due.
 */
export const schedulesProjection = defineRowProjection({
  name: 'schedules',
  table: 'schedules',
  key: ['tenant_id', 'schedule_id'],
  eventTypes: Object.values(ScheduleEventType),
  keys: (e) => [{ tenant_id: e.metadata.tenantId, schedule_id: (e.data as { scheduleId: string }).scheduleId }],
  evolve(row, e: RecordedEvent): Row | null | undefined {
    if (row && e.version <= Number(row.version)) return undefined; // applied already
    const before: ScheduleState = row ? (row.state as Schedule) : scheduleDecider.initialState();
    const state = scheduleDecider.evolve(before, { type: e.type, data: e.data } as ScheduleEvent);
    if (state.status === 'NONE') return undefined;
    if (state.status === 'DELETED') return null;
    return {
      saga_type: state.sagaType,
      status: state.status,
      next_fire_at: nextFireTime(state) ?? null,
      pending_fire_at: state.pendingFireAt ?? null,
      created_at: state.createdAt,
      updated_at: e.recordedAt.toISOString(),
      version: e.version,
      state,
    };
  },
});
