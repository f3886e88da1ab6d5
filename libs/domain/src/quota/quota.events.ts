import { DomainEvent } from '../decider';

export const QuotaEventType = {
  QuotaSet: 'QuotaSet',
  ResourcesReserved: 'ResourcesReserved',
  ResourcesReleased: 'ResourcesReleased',
} as const;

export type QuotaSet = DomainEvent<'QuotaSet', { cpuMillis: number; memoryMb: number }>;
export type ResourcesReserved = DomainEvent<
  'ResourcesReserved',
  { reservationId: string; cpuMillis: number; memoryMb: number }
>;
/** Carries the released amounts so read models need not look the reservation up. */
export type ResourcesReleased = DomainEvent<
  'ResourcesReleased',
  { reservationId: string; cpuMillis: number; memoryMb: number }
>;

export type QuotaEvent = QuotaSet | ResourcesReserved | ResourcesReleased;
