import { fold } from '../decider';
import { DeciderSpecification } from '../testing/decider-specification';
import { ReleaseResources, ReserveResources } from './quota.commands';
import { quotaDecider, quotaStreamId } from './quota.decider';
import { QuotaEvent, QuotaSet, ResourcesReleased, ResourcesReserved } from './quota.events';

const spec = DeciderSpecification.for(quotaDecider);

const quotaSet: QuotaSet = { type: 'QuotaSet', data: { cpuMillis: 1000, memoryMb: 1024 } };
const reserve = (reservationId: string, cpuMillis: number, memoryMb: number): ReserveResources => ({
  type: 'ReserveResources',
  data: { reservationId, cpuMillis, memoryMb },
});
const reserved = (reservationId: string, cpuMillis: number, memoryMb: number): ResourcesReserved => ({
  type: 'ResourcesReserved',
  data: { reservationId, cpuMillis, memoryMb },
});
const release = (reservationId: string): ReleaseResources => ({ type: 'ReleaseResources', data: { reservationId } });
const released = (reservationId: string, cpuMillis: number, memoryMb: number): ResourcesReleased => ({
  type: 'ResourcesReleased',
  data: { reservationId, cpuMillis, memoryMb },
});

describe('quota decider', () => {
  it('names the stream after the tenant', () => {
    expect(quotaStreamId('acme')).toBe('quota-acme');
  });

  it('tracks limits, usage and active reservations', () => {
    const events: QuotaEvent[] = [quotaSet, reserved('a', 100, 100), reserved('b', 200, 300), released('a', 100, 100)];
    expect(fold(quotaDecider, events)).toEqual({
      limits: { cpuMillis: 1000, memoryMb: 1024 },
      used: { cpuMillis: 200, memoryMb: 300 },
      reservations: { b: { cpuMillis: 200, memoryMb: 300 } },
      released: { a: true },
    });
  });

  describe('SetQuota', () => {
    it('sets the limits', () => {
      spec.given([]).when({ type: 'SetQuota', data: { cpuMillis: 1000, memoryMb: 1024 } }).then([quotaSet]);
    });

    it('may lower the limits below current usage', () => {
      spec
        .given([quotaSet, reserved('a', 800, 800)])
        .when({ type: 'SetQuota', data: { cpuMillis: 500, memoryMb: 500 } })
        .then([{ type: 'QuotaSet', data: { cpuMillis: 500, memoryMb: 500 } }]);
    });

    it('writes nothing when the limits are unchanged', () => {
      spec.given([quotaSet]).when({ type: 'SetQuota', data: { cpuMillis: 1000, memoryMb: 1024 } }).thenNothing();
    });

    it('refuses negative limits', () => {
      spec.given([]).when({ type: 'SetQuota', data: { cpuMillis: 1000, memoryMb: -1 } }).thenThrows('INVALID_RESOURCES');
    });
  });

  describe('ReserveResources', () => {
    it('reserves within the quota, up to the limit exactly', () => {
      spec.given([quotaSet]).when(reserve('a', 400, 512)).then([reserved('a', 400, 512)]);
      spec.given([quotaSet, reserved('a', 400, 512)]).when(reserve('b', 600, 512)).then([reserved('b', 600, 512)]);
    });

    it('refuses a reservation over the cpu or memory limit, with the numbers', () => {
      spec
        .given([quotaSet, reserved('a', 400, 512)])
        .when(reserve('b', 601, 100))
        .thenThrows('QUOTA_EXCEEDED', {
          requested: { cpuMillis: 601, memoryMb: 100 },
          used: { cpuMillis: 400, memoryMb: 512 },
          limits: { cpuMillis: 1000, memoryMb: 1024 },
          available: { cpuMillis: 600, memoryMb: 512 },
        });
      spec.given([quotaSet]).when(reserve('b', 1, 1025)).thenThrows('QUOTA_EXCEEDED');
    });

    it('counts released capacity as available again', () => {
      spec
        .given([quotaSet, reserved('a', 1000, 1024), released('a', 1000, 1024)])
        .when(reserve('b', 1000, 1024))
        .then([reserved('b', 1000, 1024)]);
    });

    it('refuses a reservation before any quota is set', () => {
      spec.given([]).when(reserve('a', 1, 1)).thenThrows('QUOTA_NOT_SET');
    });

    it('writes nothing when the same reservation is made again', () => {
      spec.given([quotaSet, reserved('a', 1000, 1024)]).when(reserve('a', 1000, 1024)).thenNothing();
    });

    it('refuses reusing a reservation id for other amounts', () => {
      spec
        .given([quotaSet, reserved('a', 100, 100)])
        .when(reserve('a', 200, 100))
        .thenThrows('RESERVATION_CONFLICT', { reservationId: 'a' });
    });

    it('refuses to reserve again a reservation that was released', () => {
      spec
        .given([quotaSet, reserved('a', 100, 100), released('a', 100, 100)])
        .when(reserve('a', 100, 100))
        .thenThrows('RESERVATION_RELEASED', { reservationId: 'a' });
    });

    it('refuses negative amounts, which would free capacity', () => {
      spec.given([quotaSet]).when(reserve('a', -100, 1)).thenThrows('INVALID_RESOURCES');
    });

    it('treats reservation ids as data, not object keys', () => {
      spec.given([quotaSet]).when(reserve('constructor', 1, 1)).then([reserved('constructor', 1, 1)]);
      spec.given([quotaSet]).when(release('toString')).thenNothing();
    });
  });

  describe('ReleaseResources', () => {
    it('releases a reservation with its amounts', () => {
      spec.given([quotaSet, reserved('a', 100, 200)]).when(release('a')).then([released('a', 100, 200)]);
    });

    it('writes nothing for a reservation never made or already released', () => {
      spec.given([quotaSet]).when(release('a')).thenNothing();
      spec.given([]).when(release('a')).thenNothing();
      spec.given([quotaSet, reserved('a', 100, 200), released('a', 100, 200)]).when(release('a')).thenNothing();
    });
  });
});
