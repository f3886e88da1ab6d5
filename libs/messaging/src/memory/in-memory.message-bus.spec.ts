import { createMessageBus } from '../message-bus.factory';
import { messageBusContract } from '../testing/message-bus.contract';
import { waitFor } from '../testing/wait-for';
import { InMemoryMessageBus } from './in-memory.message-bus';

messageBusContract('in-memory', async () => {
  const bus = new InMemoryMessageBus();
  return { bus, dispose: () => bus.close() };
});

describe('InMemoryMessageBus', () => {
  it('is what createMessageBus gives without a Redis URL', async () => {
    const bus = createMessageBus({});
    expect(bus).toBeInstanceOf(InMemoryMessageBus);
    await bus.close();
  });

  it('hands handlers a copy of the payload, as a broker would', async () => {
    const bus = new InMemoryMessageBus();
    const payload = { at: new Date('2024-01-02T03:04:05.000Z'), list: [1] };
    const got: unknown[] = [];
    await bus.subscribe('t', 'g', async (m) => void got.push(m.payload));
    await bus.publish('t', { id: '1', payload });
    payload.list.push(2);
    await waitFor(() => got.length === 1);
    expect(got[0]).toEqual({ at: '2024-01-02T03:04:05.000Z', list: [1] });
    await bus.close();
  });

  it('drops the oldest undelivered messages of a group beyond maxLen', async () => {
    const bus = new InMemoryMessageBus({ maxLen: 3 });
    const first = await bus.subscribe('t', 'g', async () => undefined);
    await first.close();
    for (let i = 0; i < 5; i++) await bus.publish('t', { id: `m${i}`, payload: i });
    const got: string[] = [];
    await bus.subscribe('t', 'g', async (m) => void got.push(m.id));
    await waitFor(() => got.length === 3);
    expect(got).toEqual(['m2', 'm3', 'm4']);
    await bus.close();
  });
});
