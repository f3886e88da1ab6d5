import { isSagaError } from './saga.errors';
import { parseTemplates, renderInputTemplates, renderTemplates } from './templates';

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

describe('parseTemplates', () => {
  it('reads {{ input.path }} as the start input only where asked (stored definitions)', () => {
    expect(parseTemplates('{{ input.customer.items[0] }}', { input: true })).toEqual([
      { ok: true, ref: { kind: 'input', text: '{{ input.customer.items[0] }}', path: ['customer', 'items', '0'] } },
    ]);
    expect(parseTemplates('{{ input.customer }}')).toEqual([{ ok: false, text: '{{ input.customer }}' }]);
    // Elsewhere a task may be named input, as it always could.
    expect(parseTemplates('{{ input.output.v }}')).toEqual([{ ok: true, ref: { kind: 'output', text: '{{ input.output.v }}', taskId: 'input', path: ['v'] } }]);
  });
});

describe('renderInputTemplates', () => {
  const input = { customer: { id: 'c-1', email: 'a@example.test' }, items: [3, 4], note: 'plain', flag: false };

  it('renders {{ input.path }} (exact references keep their JSON type) and leaves task references for the run', () => {
    const { value, problems } = renderInputTemplates(
      {
        to: '{{ input.customer.email }}',
        customer: '{{ input.customer }}',
        first: '{{input.items[0]}}',
        flag: '{{ input.flag }}',
        all: '{{ input }}',
        text: 'order for {{ input.customer.id }}: {{ fetch.output.status }}',
        later: '{{ fetch.output.body }}',
        list: ['{{ input.items.1 }}', 7],
      },
      input,
      'tasks[0].config',
    );
    expect(problems).toEqual([]);
    expect(value).toEqual({
      to: 'a@example.test',
      customer: { id: 'c-1', email: 'a@example.test' },
      first: 3,
      flag: false,
      all: input,
      text: 'order for c-1: {{ fetch.output.status }}',
      later: '{{ fetch.output.body }}',
      list: [4, 7],
    });
    // and the task references render when the task runs
    expect(renderTemplates(value, { fetch: { status: 200, body: 'ok' } })).toMatchObject({ text: 'order for c-1: 200', later: 'ok' });
  });

  it('reports each path the input lacks, where it is read', () => {
    const { problems } = renderInputTemplates({ a: '{{ input.customer.phone }}', b: ['x {{ input.ghost }}'] }, input, 'tasks[2].config');
    expect(problems).toEqual([
      { field: 'input.customer.phone', message: expect.stringMatching(/^missing, but tasks\[2\]\.config\.a reads it/) },
      { field: 'input.ghost', message: expect.stringMatching(/^missing, but tasks\[2\]\.config\.b\[0\] reads it/) },
    ]);
  });

  it('never resolves inherited properties of the input', () => {
    expect(renderInputTemplates({ a: '{{ input.constructor }}' }, input, 'c').problems.map((p) => p.field)).toEqual(['input.constructor']);
  });

  it('treats the input as data: a value that would put {{ … }} into the config is refused', () => {
    const tricky = { text: 'hi {{ fetch.output.secret }}', nested: { deep: ['{{ fetch.output }}'] }, open: '{' };
    const { problems } = renderInputTemplates(
      { a: '{{ input.text }}', b: 'say {{ input.text }}', c: '{{ input.nested }}', d: '{{{ input.open }} fetch.output }}', ok: '{{ input.open }}' },
      tricky,
      'tasks[0].config',
    );
    expect(problems.map((p) => p.field)).toEqual(['input.text', 'input.text', 'input.nested', 'input.open']);
    expect(problems[0].message).toBe('puts {{ … }} into tasks[0].config.a, where it would be read as a template reference');
  });

  it('does not mutate the definition', () => {
    const config = { v: '{{ input.note }}' };
    renderInputTemplates(config, input, 'c');
    expect(config).toEqual({ v: '{{ input.note }}' });
  });
});
