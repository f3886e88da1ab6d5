import { fold, WorkflowDefinitionEvent, workflowDefinitionDecider, workflowDefinitionId } from '@app/domain';
import { validateWorkflow } from '../core/dag';
import { renderTemplates } from '../core/templates';
import { SagaInputError } from '../executor/start';
import { resolveTaskWorkflowStart } from './resolve-task-workflow-start';

const HANDLERS = ['noop', 'echo'];

const v1 = {
  description: 'greet',
  tasks: [{ id: 'hello', handler: 'echo', dependsOn: [], config: { to: '{{ input.who }}' } }],
};
const v2 = {
  maxParallel: 2,
  onFailure: 'suspend',
  tasks: [
    { id: 'charge', handler: 'echo', dependsOn: [], config: { amount: '{{ input.order.amount }}', id: 'c-{{ input.order.id }}' } },
    {
      id: 'ship',
      handler: 'echo',
      dependsOn: ['charge'],
      config: { charge: '{{ charge.output.id }}', to: '{{ input.address }}' },
      compensation: { handler: 'echo', config: { undo: 'refund {{ ship.output.charge }} for {{ input.order.id }}' } },
    },
  ],
};

/** The store as the API and the scheduler read it: the aggregate folded from its events. */
function storeOf(events: WorkflowDefinitionEvent[]) {
  return {
    load: async (aggregate: string, id: string) => {
      expect(aggregate).toBe('workflowdef');
      const stream = events.filter((e) => workflowDefinitionId(e.data.tenantId, e.data.name) === id);
      return { state: fold(workflowDefinitionDecider, stream), version: stream.length - 1 };
    },
  };
}

const defined = (tenantId: string, name: string, version: number, definition: Record<string, unknown>): WorkflowDefinitionEvent => ({
  type: 'WorkflowVersionDefined',
  data: { tenantId, name, version, definition, createdAt: '2030-01-01T00:00:00.000Z' },
});

const store = storeOf([defined('acme', 'checkout', 1, v1), defined('acme', 'checkout', 2, v2), defined('other', 'secret', 1, v1)]);

async function problemsOf(body: unknown, tenantId = 'acme') {
  try {
    await resolveTaskWorkflowStart(store, tenantId, body);
  } catch (err) {
    if (err instanceof SagaInputError) return err.problems;
    throw err;
  }
  throw new Error('expected a SagaInputError');
}

describe('resolveTaskWorkflowStart', () => {
  const input = { order: { id: 'o-7', amount: 42 }, address: { city: 'Lyon' }, who: 'world' };

  it('resolves the latest version: its tasks with {{ input.… }} rendered, its options, the definition and the input', async () => {
    const resolved = await resolveTaskWorkflowStart(store, 'acme', { definition: { name: 'checkout' }, input });
    expect(resolved).toEqual({
      name: 'checkout',
      maxParallel: 2,
      onFailure: 'suspend',
      tasks: [
        { id: 'charge', handler: 'echo', dependsOn: [], config: { amount: 42, id: 'c-o-7' } },
        {
          id: 'ship',
          handler: 'echo',
          dependsOn: ['charge'],
          config: { charge: '{{ charge.output.id }}', to: { city: 'Lyon' } },
          compensation: { handler: 'echo', config: { undo: 'refund {{ ship.output.charge }} for o-7' } },
        },
      ],
      definition: { name: 'checkout', version: 2 },
      input,
    });
    // What the executor validates and renders, as for any task workflow.
    expect(validateWorkflow(resolved, HANDLERS)).toEqual([]);
    expect(renderTemplates(resolved.tasks[1].config, { charge: { id: 'ch-1' } })).toEqual({ charge: 'ch-1', to: { city: 'Lyon' } });
  });

  it('resolves a given version; the start body`s own options win over the definition`s', async () => {
    const resolved = await resolveTaskWorkflowStart(store, 'acme', { definition: { name: 'checkout', version: 1 }, input: { who: 'you' }, onFailure: 'compensate' });
    expect(resolved).toEqual({
      name: 'checkout',
      onFailure: 'compensate',
      tasks: [{ id: 'hello', handler: 'echo', dependsOn: [], config: { to: 'you' } }],
      definition: { name: 'checkout', version: 1 },
      input: { who: 'you' },
    });
  });

  it('returns a body that lists its tasks as it is', async () => {
    const body = { name: 'plain', tasks: [{ id: 'a', handler: 'noop', dependsOn: [] }] };
    expect(await resolveTaskWorkflowStart(store, 'acme', body)).toBe(body);
  });

  it('refuses an unknown definition or version, and another tenant`s definition, as bad input', async () => {
    expect(await problemsOf({ definition: { name: 'nope' } })).toEqual([{ field: 'definition.name', message: 'unknown workflow definition nope' }]);
    expect(await problemsOf({ definition: { name: 'secret' } })).toEqual([{ field: 'definition.name', message: 'unknown workflow definition secret' }]);
    expect(await problemsOf({ definition: { name: 'checkout', version: 3 } })).toEqual([
      { field: 'definition.version', message: 'workflow definition checkout has no version 3 (latest: 2)' },
    ]);
  });

  it('refuses a malformed reference, input or a body that also lists tasks', async () => {
    expect((await problemsOf({ definition: { name: 'Bad Name', version: 0 }, input: [] })).map((p) => p.field)).toEqual(['definition.name', 'definition.version', 'input']);
    expect((await problemsOf({ definition: 'checkout' })).map((p) => p.field)).toEqual(['definition']);
    expect((await problemsOf({ definition: { name: 'checkout' }, tasks: [], name: 'x' })).map((p) => p.field)).toEqual(['name', 'tasks']);
  });

  it('refuses an input that lacks a path the definition reads, or that would inject a template', async () => {
    expect(await problemsOf({ definition: { name: 'checkout' }, input: { order: { id: 'o-1' } } })).toEqual([
      { field: 'input.order.amount', message: expect.stringContaining('missing, but tasks[0].config.amount reads it') },
      { field: 'input.address', message: expect.stringContaining('missing, but tasks[1].config.to reads it') },
    ]);
    expect(await problemsOf({ definition: { name: 'checkout', version: 1 } })).toEqual([{ field: 'input.who', message: expect.stringContaining('missing') }]);
    expect(await problemsOf({ definition: { name: 'checkout', version: 1 }, input: { who: '{{ hello.output }}' } })).toEqual([
      { field: 'input.who', message: 'puts {{ … }} into tasks[0].config.to, where it would be read as a template reference' },
    ]);
  });
});
