import { WakeableSleep } from './wakeable-sleep';

describe('WakeableSleep', () => {
  const elapsed = async (p: Promise<void>) => {
    const t = Date.now();
    await p;
    return Date.now() - t;
  };

  it('a wake-up ends the current pause, and one that came while busy ends the next at once', async () => {
    const pause = new WakeableSleep();
    const sleeping = elapsed(pause.sleep(5_000));
    pause.wake();
    expect(await sleeping).toBeLessThan(1_000);
    // Not consumed yet: the next pause returns at once too.
    expect(await elapsed(pause.sleep(5_000))).toBeLessThan(1_000);
    pause.consume();
    const t = pause.sleep(50);
    expect(await elapsed(t)).toBeGreaterThanOrEqual(40);
  });

  it('a backoff (wakeable: false) ignores wake-ups but not cancel; cancel lasts until reset', async () => {
    const pause = new WakeableSleep();
    const backoff = pause.sleep(120, { wakeable: false });
    pause.wake();
    const waited = await elapsed(backoff);
    expect(waited).toBeGreaterThanOrEqual(100);
    const long = elapsed(pause.sleep(5_000, { wakeable: false }));
    pause.cancel();
    expect(await long).toBeLessThan(1_000);
    expect(await elapsed(pause.sleep(5_000))).toBeLessThan(1_000);
    pause.reset();
    expect(await elapsed(pause.sleep(50))).toBeGreaterThanOrEqual(40);
  });
});
