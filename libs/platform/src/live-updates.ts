import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { EventEmitter } from 'events';
import { RecordedEvent } from '@app/event-store';
import { MESSAGE_BUS, MessageBus, Subscription } from '@app/messaging';

const CHANNEL = 'saga-live';

/**
 * Tells live readers (SSE) that a saga has new events. Within one process through an emitter,
 * across api instances through the message bus (Redis pub/sub). Readers re-read the saga's stream
 * on each signal (and poll as a fallback), so a lost signal delays an update, never loses it.
 */
@Injectable()
export class LiveUpdates implements OnModuleInit {
  private readonly emitter = new EventEmitter();
  private subscription?: Subscription;

  constructor(@Inject(MESSAGE_BUS) private readonly bus: MessageBus) {
    this.emitter.setMaxListeners(0);
  }

  async onModuleInit(): Promise<void> {
    this.subscription = await this.bus.onNotify(CHANNEL, (sagaId) => this.emitter.emit(sagaId)).catch(() => undefined);
  }

  publish(events: RecordedEvent[]): void {
    for (const streamId of new Set(events.map((e) => e.streamId))) {
      if (!streamId.startsWith('saga-')) continue;
      const sagaId = streamId.slice(5);
      this.emitter.emit(sagaId);
      this.bus.notify(CHANNEL, sagaId).catch(() => undefined);
    }
  }

  /** Calls `listener` whenever the saga may have new events; returns the unsubscribe function. */
  watch(sagaId: string, listener: () => void): () => void {
    this.emitter.on(sagaId, listener);
    return () => this.emitter.off(sagaId, listener);
  }

  async close(): Promise<void> {
    await this.subscription?.close();
  }
}
