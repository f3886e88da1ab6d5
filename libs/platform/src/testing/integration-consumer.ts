import { DeliveredMessage, MessageBus, SubscribeOptions, Subscription } from '@app/messaging';
import { INTEGRATION_TOPIC } from '../integration-relay';

/** What an integrator gets from the relay, as it arrived. */
export interface ConsumedEvent {
  messageId: string;
  key?: string;
  headerType: string;
  type: string;
  eventId: string;
  sagaId: string;
  sagaVersion: number;
  globalPosition: number;
  tenantId: string;
  deliveries: number;
}

/**
 * An integrator subscribed to `saga.events` with a group of its own: records every delivery in
 * arrival order, and de-duplicates by message id (the event id) as consumers are told to.
 */
export class IntegrationConsumer {
  readonly received: ConsumedEvent[] = [];
  private subscription?: Subscription;

  private constructor(private readonly before?: (message: DeliveredMessage) => Promise<void>) {}

  static async subscribe(
    bus: MessageBus,
    group: string,
    options: SubscribeOptions & { before?: (message: DeliveredMessage) => Promise<void> } = {},
  ): Promise<IntegrationConsumer> {
    const { before, ...subscribeOptions } = options;
    const consumer = new IntegrationConsumer(before);
    consumer.subscription = await bus.subscribe(INTEGRATION_TOPIC, group, (m) => consumer.handle(m), subscribeOptions);
    return consumer;
  }

  private async handle(message: DeliveredMessage): Promise<void> {
    if (this.before) await this.before(message);
    const p = message.payload as Record<string, unknown>;
    this.received.push({
      messageId: message.id,
      key: message.key,
      headerType: message.headers.type,
      type: String(p.type),
      eventId: String(p.eventId),
      sagaId: String(p.sagaId),
      sagaVersion: Number(p.sagaVersion),
      globalPosition: Number(p.globalPosition),
      tenantId: String(p.tenantId),
      deliveries: message.deliveries,
    });
  }

  /** Message ids seen at least once. */
  ids(): Set<string> {
    return new Set(this.received.map((r) => r.messageId));
  }

  /** Per saga, the first delivery of each event, in arrival order (what a de-duplicating consumer acts on). */
  firstOccurrences(): Map<string, ConsumedEvent[]> {
    const seen = new Set<string>();
    const bySaga = new Map<string, ConsumedEvent[]>();
    for (const r of this.received) {
      if (seen.has(r.messageId)) continue;
      seen.add(r.messageId);
      const list = bySaga.get(r.sagaId) ?? [];
      list.push(r);
      bySaga.set(r.sagaId, list);
    }
    return bySaga;
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }
}

/** The sagas whose first deliveries are not in increasing sagaVersion order, with those versions. */
export function outOfOrderSagas(consumer: IntegrationConsumer): Record<string, number[]> {
  const bad: Record<string, number[]> = {};
  for (const [sagaId, events] of consumer.firstOccurrences()) {
    const versions = events.map((e) => e.sagaVersion);
    if (versions.some((v, i) => i > 0 && v <= versions[i - 1])) bad[sagaId] = versions;
  }
  return bad;
}
