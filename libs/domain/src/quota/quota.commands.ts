import { DomainCommand } from '../decider';
import { QuotaSet, ResourcesReserved } from './quota.events';

export type SetQuota = DomainCommand<'SetQuota', QuotaSet['data']>;
export type ReserveResources = DomainCommand<'ReserveResources', ResourcesReserved['data']>;
export type ReleaseResources = DomainCommand<'ReleaseResources', { reservationId: string }>;

export type QuotaCommand = SetQuota | ReserveResources | ReleaseResources;
