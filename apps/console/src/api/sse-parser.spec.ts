import { SseMessage, SseParser } from './sse-parser';

const frame = (version: number, type: string, data: object) => `id: ${version}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

function parseInChunks(text: string, size: number): SseMessage[] {
  const parser = new SseParser();
  const out: SseMessage[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
  return out;
}

describe('SseParser (the saga live stream read through fetch)', () => {
  const stream = frame(0, 'SagaStarted', { type: 'SagaStarted', data: { note: 'a: b' } }) + ': keep-alive\n\n' + frame(1, 'StepStarted', { step: 'a' });

  it('yields each event with its id, type and data, and skips comment lines', () => {
    expect(new SseParser().push(stream)).toEqual([
      { id: '0', event: 'SagaStarted', data: '{"type":"SagaStarted","data":{"note":"a: b"}}' },
      { id: '1', event: 'StepStarted', data: '{"step":"a"}' },
    ]);
  });

  it('gives the same events whatever the chunk boundaries', () => {
    const whole = new SseParser().push(stream);
    for (const size of [1, 2, 3, 7, 50]) expect(parseInChunks(stream, size)).toEqual(whole);
  });

  it('accepts CRLF and CR line ends, also split between chunks', () => {
    const crlf = stream.replace(/\n/g, '\r\n');
    const cr = stream.replace(/\n/g, '\r');
    const whole = new SseParser().push(stream);
    for (const size of [1, 2, 5]) {
      expect(parseInChunks(crlf, size)).toEqual(whole);
      expect(parseInChunks(cr, size)).toEqual(whole);
    }
  });

  it('joins multi-line data, defaults the type to message and holds an incomplete event back', () => {
    const parser = new SseParser();
    expect(parser.push('data: one\ndata:two\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ id: undefined, event: 'message', data: 'one\ntwo' }]);
  });

  it('keeps the last id for the next reconnect (Last-Event-ID), as EventSource does', () => {
    const parser = new SseParser();
    const [first, second] = parser.push('id: 7\nevent: A\ndata: {}\n\nevent: B\ndata: {}\n\n');
    expect(first.id).toBe('7');
    expect(second.id).toBe('7');
  });
});
