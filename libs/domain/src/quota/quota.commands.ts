import { DomainCommand } from '../decider';

export const QuotaCommandType = {
  SetQuota: 'SetQuota',
  ReserveResources: 'ReserveResources',
  ReleaseResources: 'ReleaseResources',
} as const;

export type SetQuota = DomainCommand<'SetQuota', { cpuMillis: number; memoryMb: number }>;
export type ReserveResources = DomainCommand<
  'ReserveResources',
  { reservationId: string; cpuMillis: number; memoryMb: number }
>;
export type ReleaseResources = DomainCommand<'ReleaseResources', { reservationId: string }>;

export type QuotaCommand = SetQuota | ReserveResources | ReleaseResources;
