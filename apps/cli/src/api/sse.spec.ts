import { parseSse, SseMessage } from './sse';

async function parse(chunks: string[]): Promise<SseMessage[]> {
  async function* source() {
    for (const c of chunks) yield c;
  }
  const out: SseMessage[] = [];
  for await (const m of parseSse(source())) out.push(m);
  return out;
}

describe('parseSse', () => {
  it('reads id, event and data of each message, skipping comments', async () => {
    const stream = ': keep-alive\n\nid: 0\nevent: SagaStarted\ndata: {"a":1}\n\nid: 1\nevent: StepStarted\ndata: {"b":2}\n\n';
    expect(await parse([stream])).toEqual([
      { id: '0', event: 'SagaStarted', data: '{"a":1}' },
      { id: '1', event: 'StepStarted', data: '{"b":2}' },
    ]);
  });

  it('joins messages and lines split across chunks, whatever the line ending', async () => {
    expect(await parse(['id: 7\r', '\nevent: X\r\nda', 'ta: one\r\ndata: two\r', '\n\r\n'])).toEqual([{ id: '7', event: 'X', data: 'one\ntwo' }]);
  });

  it('keeps the last id for messages without one and names untyped messages "message"', async () => {
    expect(await parse(['id: 3\ndata: x\n\ndata: y\n\n'])).toEqual([
      { id: '3', event: 'message', data: 'x' },
      { id: '3', event: 'message', data: 'y' },
    ]);
  });

  it('dispatches nothing for a message without data or one cut off before its blank line', async () => {
    expect(await parse(['event: Empty\n\nid: 9\nevent: Cut\ndata: {"half"'])).toEqual([]);
  });
});
