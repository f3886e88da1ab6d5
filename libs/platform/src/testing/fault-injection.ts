import { MessageBus } from '@app/messaging';

/**
 * The bus as it is, except that `fault` runs (e.g. a FLUSHALL of the real Redis) right before the
 * nth publish goes through: puts a broker failure at an exact point of a publisher's work.
 */
export function faultBeforePublish(bus: MessageBus, nth: number, fault: () => Promise<void>): MessageBus {
  let publishes = 0;
  return {
    publish: async (topic, message, options) => {
      if (++publishes === nth) await fault();
      return bus.publish(topic, message, options);
    },
    subscribe: (pattern, group, handler, options) => bus.subscribe(pattern, group, handler, options),
    listDeadLetters: (query) => bus.listDeadLetters(query),
    replayDeadLetter: (id) => bus.replayDeadLetter(id),
    notify: (channel, payload) => bus.notify(channel, payload),
    onNotify: (channel, listener) => bus.onNotify(channel, listener),
    epoch: () => bus.epoch(),
    close: () => bus.close(),
  };
}
