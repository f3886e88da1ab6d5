import { Decider, DomainError } from '../decider';
import { Resources, assertValidResources } from '../resources';
import { QuotaCommand } from './quota.commands';
import { QuotaEvent } from './quota.events';

export interface QuotaState {
  /** Null until the first QuotaSet: nothing can be reserved before. */
  limits: Resources | null;
  used: Resources;
  /** Active reservations by id. */
  reservations: Record<string, Resources>;
  /** Kept so a late retry of a reservation that was already released cannot take capacity again. */
  released: Record<string, true>;
}

// Reservation ids come from callers: never let one like `constructor` resolve to a prototype member.
const own = <T>(record: Record<string, T>, key: string): T | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined;

export const quotaStreamId = (tenantId: string): string => `quota-${tenantId}`;

export const quotaDecider: Decider<QuotaState, QuotaCommand, QuotaEvent> = {
  initialState: () => ({ limits: null, used: { cpuMillis: 0, memoryMb: 0 }, reservations: {}, released: {} }),

  evolve(state, event) {
    switch (event.type) {
      case 'QuotaSet':
        return { ...state, limits: { cpuMillis: event.data.cpuMillis, memoryMb: event.data.memoryMb } };
      case 'ResourcesReserved': {
        const { reservationId, cpuMillis, memoryMb } = event.data;
        return {
          ...state,
          used: { cpuMillis: state.used.cpuMillis + cpuMillis, memoryMb: state.used.memoryMb + memoryMb },
          reservations: { ...state.reservations, [reservationId]: { cpuMillis, memoryMb } },
        };
      }
      case 'ResourcesReleased': {
        const { reservationId, cpuMillis, memoryMb } = event.data;
        const { [reservationId]: _released, ...reservations } = state.reservations;
        return {
          ...state,
          used: { cpuMillis: state.used.cpuMillis - cpuMillis, memoryMb: state.used.memoryMb - memoryMb },
          reservations,
          released: { ...state.released, [reservationId]: true },
        };
      }
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'SetQuota': {
        const limits = assertValidResources(command.data);
        if (state.limits?.cpuMillis === limits.cpuMillis && state.limits.memoryMb === limits.memoryMb) return [];
        // Lowering limits below current usage is allowed: existing reservations stay, new ones fail.
        return [{ type: 'QuotaSet', data: limits }];
      }
      case 'ReserveResources': {
        const { reservationId } = command.data;
        const requested = assertValidResources(command.data);
        const existing = own(state.reservations, reservationId);
        if (existing) {
          if (existing.cpuMillis === requested.cpuMillis && existing.memoryMb === requested.memoryMb) return [];
          throw new DomainError('RESERVATION_CONFLICT', `reservation ${reservationId} exists with other amounts`, {
            reservationId,
            reserved: existing,
            requested,
          });
        }
        if (own(state.released, reservationId)) {
          throw new DomainError('RESERVATION_RELEASED', `reservation ${reservationId} was already released`, {
            reservationId,
          });
        }
        if (!state.limits) throw new DomainError('QUOTA_NOT_SET', 'the tenant has no quota');
        const { limits, used } = state;
        if (
          used.cpuMillis + requested.cpuMillis > limits.cpuMillis ||
          used.memoryMb + requested.memoryMb > limits.memoryMb
        ) {
          throw new DomainError('QUOTA_EXCEEDED', 'the request exceeds the tenant quota', {
            requested,
            used,
            limits,
            available: { cpuMillis: limits.cpuMillis - used.cpuMillis, memoryMb: limits.memoryMb - used.memoryMb },
          });
        }
        return [{ type: 'ResourcesReserved', data: { reservationId, ...requested } }];
      }
      case 'ReleaseResources': {
        const { reservationId } = command.data;
        const reserved = own(state.reservations, reservationId);
        // Nothing held (never reserved, or released before): releasing is a compensation and must not fail.
        if (!reserved) return [];
        return [{ type: 'ResourcesReleased', data: { reservationId, ...reserved } }];
      }
    }
  },
};
