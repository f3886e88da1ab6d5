import { randomUUID } from 'crypto';

// Type aliases (not interfaces) so that they fit Emmett's `Record<string, unknown>` constraints.
export type BenchEventData = {
  orderId: string;
  amount: number;
  currency: string;
  sku: string;
  qty: number;
};

export type BenchEvent = {
  type: 'OrderLinePriced';
  data: BenchEventData;
};

/** Deterministic amount of event `i`, so that every system folds W5's aggregate to the same total. */
export function amountOf(i: number): number {
  return (i * 7919) % 10_000;
}

/** One event with a ≈100-byte JSON body, e.g. {"orderId":"<uuid>","amount":1234,"currency":"EUR",…}. */
export function benchEvent(i: number): BenchEvent {
  return {
    type: 'OrderLinePriced',
    data: {
      orderId: randomUUID(),
      amount: amountOf(i),
      currency: 'EUR',
      sku: `SKU-${String(i % 1_000_000).padStart(6, '0')}`,
      qty: (i % 9) + 1,
    },
  };
}

export function benchEvents(from: number, count: number): BenchEvent[] {
  return Array.from({ length: count }, (_, k) => benchEvent(from + k));
}

export const PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(benchEvent(123_456).data));

/** W5's aggregate: a running total over the stream. */
export interface CounterState {
  count: number;
  total: number;
  lastOrderId: string | null;
}

export const counterInitialState = (): CounterState => ({ count: 0, total: 0, lastOrderId: null });

export function counterEvolve(state: CounterState, event: { type: string; data: unknown }): CounterState {
  const data = event.data as BenchEventData;
  return { count: state.count + 1, total: state.total + data.amount, lastOrderId: data.orderId };
}

export function expectedTotal(count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += amountOf(i);
  return total;
}

export const TENANT = 'bench-tenant';
