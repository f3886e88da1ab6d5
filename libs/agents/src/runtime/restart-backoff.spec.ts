import { restartDelayMs } from './restart-backoff';

describe('restartDelayMs', () => {
  it('starts at base and doubles with each crash in a row', () => {
    expect([1, 2, 3, 4].map((n) => restartDelayMs(n))).toEqual([500, 1000, 2000, 4000]);
  });

  it('is capped at max', () => {
    expect(restartDelayMs(7)).toBe(30_000);
    expect(restartDelayMs(1_000)).toBe(30_000);
    expect(restartDelayMs(3, { baseMs: 100, maxMs: 250 })).toBe(250);
  });

  it('treats 0 or fewer crashes as the first', () => {
    expect(restartDelayMs(0)).toBe(500);
  });
});
