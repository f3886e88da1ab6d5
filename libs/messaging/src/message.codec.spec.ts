import { isMessagingError } from './messaging.errors';
import { decodeMessage, encodeMessage, fieldOf, fieldsToRecord, messageFieldsOf } from './message.codec';

describe('message codec', () => {
  it('encodes a message as stream fields and decodes it back as plain JSON', () => {
    const fields = encodeMessage({ id: 'm1', key: 'saga-1', payload: { at: new Date('2024-01-02T03:04:05.000Z'), n: 1 }, headers: { h: 'v' } });
    expect(fields).toEqual(['id', 'm1', 'payload', '{"at":"2024-01-02T03:04:05.000Z","n":1}', 'headers', '{"h":"v"}', 'key', 'saga-1']);
    expect(decodeMessage(fields)).toEqual({ id: 'm1', key: 'saga-1', payload: { at: '2024-01-02T03:04:05.000Z', n: 1 }, headers: { h: 'v' } });
    expect(fieldOf(fields, 'key')).toBe('saga-1');
  });

  it('leaves the key out when there is none, and defaults payload and headers', () => {
    const fields = encodeMessage({ id: 'm2', payload: undefined });
    expect(fields).toEqual(['id', 'm2', 'payload', 'null', 'headers', '{}']);
    expect(decodeMessage(fields)).toEqual({ id: 'm2', payload: null, headers: {} });
    expect(decodeMessage(['id', 'm3'])).toEqual({ id: 'm3', payload: null, headers: {} });
  });

  it('rejects a payload that cannot be serialised as INVALID_ARGUMENT', () => {
    let err: unknown;
    try {
      encodeMessage({ id: 'm', payload: { n: BigInt(1) } });
    } catch (e) {
      err = e;
    }
    expect(isMessagingError(err, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('refuses to decode an entry without an id', () => {
    expect(() => decodeMessage(['payload', '{}'])).toThrow(/no id/);
  });

  it('takes the message fields out of a larger record, still encoded', () => {
    const record = fieldsToRecord(['topic', 't', 'reason', 'r', ...encodeMessage({ id: 'm', key: 'k', payload: [1] })]);
    expect(messageFieldsOf(record)).toEqual(['id', 'm', 'payload', '[1]', 'headers', '{}', 'key', 'k']);
  });
});
