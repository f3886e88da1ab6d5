/**
 * The delivery rule of both adapters. A group that has been handed a message `deliveries` times without
 * an acknowledgement (each delivery failed, or its consumer never answered) dead-letters it once that
 * count reaches `maxDeliveries` — the port's "dead-lettered after maxDeliveries failures" — and
 * delivers it again before. Asked twice per delivery: after a failure (the count includes it), and
 * before handing out a message reclaimed from a silent consumer (the count is of the deliveries made).
 */
export function shouldDeadLetter(deliveries: number, maxDeliveries: number): boolean {
  return deliveries >= maxDeliveries;
}

/** The reason of a message dead-lettered because its consumers never answered. */
export function unacknowledgedReason(deliveries: number): string {
  return `not acknowledged after ${deliveries} deliveries (consumer stopped or timed out)`;
}
