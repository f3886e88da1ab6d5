import { shouldDeadLetter, unacknowledgedReason } from './delivery-rule';

describe('shouldDeadLetter', () => {
  it.each([
    [0, 1, false],
    [1, 1, true],
    [1, 3, false],
    [2, 3, false],
    [3, 3, true],
    [4, 3, true],
  ])('after %i unacknowledged deliveries with maxDeliveries %i: %s', (deliveries, maxDeliveries, expected) => {
    expect(shouldDeadLetter(deliveries, maxDeliveries)).toBe(expected);
  });

  it('gives a message that always fails exactly maxDeliveries deliveries', () => {
    for (const maxDeliveries of [1, 2, 5]) {
      let deliveries = 0;
      do deliveries++;
      while (!shouldDeadLetter(deliveries, maxDeliveries));
      expect(deliveries).toBe(maxDeliveries);
    }
  });

  it('hands a message reclaimed from silent consumers out again only while deliveries remain', () => {
    // A reclaimed message is checked with the deliveries already made, before the next one.
    expect(shouldDeadLetter(1, 5)).toBe(false);
    expect(shouldDeadLetter(5, 5)).toBe(true);
    expect(unacknowledgedReason(5)).toBe('not acknowledged after 5 deliveries (consumer stopped or timed out)');
  });
});
