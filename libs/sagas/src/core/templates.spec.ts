import { isSagaError } from './saga.errors';
import { renderTemplates } from './templates';

const outputs = {
  fetch: { status: 200, body: { items: [{ id: 'x1' }, { id: 'x2' }] }, ok: true, nothing: null },
  name: 'plain string output',
};

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isSagaError(err) ? err.code : 'OTHER';
  }
  return undefined;
}

describe('renderTemplates', () => {
  it('gives an exact reference the referenced value with its JSON type', () => {
    expect(
      renderTemplates(
        {
          status: '{{ fetch.output.status }}',
          ok: '{{fetch.output.ok}}',
          body: '{{ fetch.output.body }}',
          first: '{{ fetch.output.body.items[0].id }}',
          second: '{{ fetch.output.body.items.1.id }}',
          nothing: '{{ fetch.output.nothing }}',
          whole: '{{ name.output }}',
        },
        outputs,
      ),
    ).toEqual({
      status: 200,
      ok: true,
      body: { items: [{ id: 'x1' }, { id: 'x2' }] },
      first: 'x1',
      second: 'x2',
      nothing: null,
      whole: 'plain string output',
    });
  });

  it('interpolates references inside longer strings as text, objects as JSON', () => {
    expect(
      renderTemplates(
        {
          msg: 'got {{ fetch.output.status }} ok={{ fetch.output.ok }} from {{ name.output }}',
          json: 'items: {{ fetch.output.body.items }}',
          padded: ' {{ fetch.output.status }}',
        },
        outputs,
      ),
    ).toEqual({
      msg: 'got 200 ok=true from plain string output',
      json: 'items: [{"id":"x1"},{"id":"x2"}]',
      padded: ' 200',
    });
  });

  it('walks nested objects and arrays and leaves other values alone', () => {
    expect(renderTemplates({ a: [1, '{{ fetch.output.status }}', { b: ['{{ fetch.output.body.items[1].id }}'] }], n: 5, z: null }, outputs)).toEqual({
      a: [1, 200, { b: ['x2'] }],
      n: 5,
      z: null,
    });
    expect(renderTemplates(undefined, outputs)).toBeUndefined();
    expect(renderTemplates('{{ fetch.output.status }}', outputs)).toBe(200);
  });

  it('does not mutate its input', () => {
    const config = { v: '{{ fetch.output.status }}' };
    renderTemplates(config, outputs);
    expect(config).toEqual({ v: '{{ fetch.output.status }}' });
  });

  it('fails with TEMPLATE_PATH_NOT_FOUND for a missing path, task or index', () => {
    expect(errorCode(() => renderTemplates({ v: '{{ fetch.output.headers.etag }}' }, outputs))).toBe('TEMPLATE_PATH_NOT_FOUND');
    expect(errorCode(() => renderTemplates({ v: 'x {{ ghost.output }}' }, outputs))).toBe('TEMPLATE_PATH_NOT_FOUND');
    expect(errorCode(() => renderTemplates({ v: '{{ fetch.output.body.items[7] }}' }, outputs))).toBe('TEMPLATE_PATH_NOT_FOUND');
    expect(errorCode(() => renderTemplates({ v: '{{ name.output.length }}' }, outputs))).toBe('TEMPLATE_PATH_NOT_FOUND');
  });

  it('never resolves inherited properties', () => {
    expect(errorCode(() => renderTemplates({ v: '{{ fetch.output.constructor }}' }, outputs))).toBe('TEMPLATE_PATH_NOT_FOUND');
    expect(errorCode(() => renderTemplates({ v: '{{ fetch.output.__proto__ }}' }, outputs))).toBe('TEMPLATE_PATH_NOT_FOUND');
  });

  it('keeps a __proto__ key of the config as a plain key', () => {
    const config = JSON.parse('{"__proto__": {"polluted": "{{ fetch.output.status }}"}}');
    const rendered = renderTemplates(config, outputs) as Record<string, unknown>;
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(rendered, '__proto__')?.value).toEqual({ polluted: 200 });
  });
});
