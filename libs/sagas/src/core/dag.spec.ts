import { TaskWorkflowInput, validateWorkflow, WorkflowTask } from './dag';

const HANDLERS = ['noop', 'echo', 'http', 'delay', 'fail', 'transform'];

function wf(tasks: Partial<WorkflowTask>[], extra: Partial<TaskWorkflowInput> = {}): TaskWorkflowInput {
  return { name: 'wf', tasks: tasks.map((t) => ({ handler: 'noop', dependsOn: [], ...t }) as WorkflowTask), ...extra };
}

const validate = (input: TaskWorkflowInput) => validateWorkflow(input, HANDLERS);

describe('validateWorkflow', () => {
  it('accepts a valid DAG with references to ancestors', () => {
    expect(
      validate(
        wf(
          [
            { id: 'fetch', handler: 'http', config: { url: 'https://example.test' } },
            { id: 'parse', dependsOn: ['fetch'], handler: 'transform', config: { body: '{{ fetch.output.body }}' } },
            {
              id: 'report',
              dependsOn: ['parse'],
              handler: 'echo',
              // transitive ancestor, nested objects and arrays
              config: { lines: ['status {{fetch.output.status}}', { items: '{{ parse.output.items[0] }}' }] },
              compensation: { handler: 'echo', config: { undo: '{{ fetch.output }}' } },
              priority: 'HIGH',
              retry: { maxAttempts: 5, backoffMs: 100 },
              timeoutMs: 5_000,
            },
          ],
          { maxParallel: 64 },
        ),
      ),
    ).toEqual([]);
  });

  it('rejects duplicate task ids', () => {
    expect(validate(wf([{ id: 'a' }, { id: 'a' }]))).toEqual([{ field: 'tasks[1].id', message: 'duplicate task id a (also tasks[0])' }]);
  });

  it('rejects unknown dependsOn ids', () => {
    expect(validate(wf([{ id: 'a', dependsOn: ['ghost'] }]))).toEqual([{ field: 'tasks[0].dependsOn[0]', message: 'unknown task id ghost' }]);
  });

  it('rejects cycles and names them', () => {
    const problems = validate(wf([{ id: 'a', dependsOn: ['c'] }, { id: 'b', dependsOn: ['a'] }, { id: 'c', dependsOn: ['b'] }, { id: 'd' }]));
    expect(problems).toEqual([{ field: 'tasks[0].dependsOn', message: 'cycle: a -> c -> b -> a' }]);
  });

  it('rejects a task that depends on itself', () => {
    expect(validate(wf([{ id: 'a', dependsOn: ['a'] }]))).toEqual([{ field: 'tasks[0].dependsOn', message: 'cycle: a -> a' }]);
  });

  it('reports each of two separate cycles', () => {
    const problems = validate(wf([{ id: 'a', dependsOn: ['b'] }, { id: 'b', dependsOn: ['a'] }, { id: 'x', dependsOn: ['y'] }, { id: 'y', dependsOn: ['x'] }]));
    expect(problems.map((p) => p.message)).toEqual(['cycle: a -> b -> a', 'cycle: x -> y -> x']);
  });

  it('rejects unknown task and compensation handlers', () => {
    expect(validate(wf([{ id: 'a', handler: 'rm-rf', compensation: { handler: 'undo-magic' } }]))).toEqual([
      { field: 'tasks[0].handler', message: 'unknown handler rm-rf' },
      { field: 'tasks[0].compensation.handler', message: 'unknown handler undo-magic' },
    ]);
  });

  it('rejects references to unknown tasks', () => {
    expect(validate(wf([{ id: 'a', config: { x: { y: ['{{ ghost.output.v }}'] } } }]))).toEqual([
      { field: 'tasks[0].config.x.y[0]', message: '{{ ghost.output.v }} references unknown task ghost' },
    ]);
  });

  it('rejects references to tasks that are not ancestors (sibling, descendant, self)', () => {
    const problems = validate(
      wf([
        { id: 'root' },
        { id: 'left', dependsOn: ['root'], config: { v: 'x{{ right.output.v }}' } },
        { id: 'right', dependsOn: ['root'], config: { v: '{{ right.output.v }}' } },
        { id: 'leaf', dependsOn: ['left'] },
        { id: 'top', config: { v: '{{ leaf.output }}' } },
      ]),
    );
    expect(problems).toEqual([
      { field: 'tasks[1].config.v', message: '{{ right.output.v }} references right, which is not an upstream dependency of left' },
      { field: 'tasks[2].config.v', message: '{{ right.output.v }} references right, which is not an upstream dependency of right' },
      { field: 'tasks[4].config.v', message: '{{ leaf.output }} references leaf, which is not an upstream dependency of top' },
    ]);
  });

  it('checks references in compensation config too', () => {
    expect(validate(wf([{ id: 'a', compensation: { handler: 'noop', config: { id: '{{ b.output.id }}' } } }, { id: 'b', dependsOn: ['a'] }]))).toEqual([
      { field: 'tasks[0].compensation.config.id', message: '{{ b.output.id }} references b, which is not an upstream dependency of a' },
    ]);
  });

  it('lets a compensation read its own task output (the undo of what the task did) and its ancestors', () => {
    expect(
      validate(
        wf([
          { id: 'A' },
          { id: 'B', dependsOn: ['A'], compensation: { handler: 'echo', config: { refund: 'refund charge {{ B.output.chargeId }}', order: '{{ A.output.id }}' } } },
        ]),
      ),
    ).toEqual([]);
  });

  it('still refuses a task config that reads its own output, and a compensation that reads a descendant or a sibling', () => {
    expect(
      validate(
        wf([
          { id: 'A', config: { v: '{{ A.output.v }}' } },
          { id: 'B', dependsOn: ['A'], compensation: { handler: 'echo', config: { c: '{{ C.output.v }}', d: '{{ D.output.v }}' } } },
          { id: 'C', dependsOn: ['B'] },
          { id: 'D', dependsOn: ['A'] },
        ]),
      ),
    ).toEqual([
      { field: 'tasks[0].config.v', message: '{{ A.output.v }} references A, which is not an upstream dependency of A' },
      { field: 'tasks[1].compensation.config.c', message: '{{ C.output.v }} references C, which is not an upstream dependency of B' },
      { field: 'tasks[1].compensation.config.d', message: '{{ D.output.v }} references D, which is not an upstream dependency of B' },
    ]);
  });

  describe('{{ input.path }}', () => {
    const withInput = wf([
      { id: 'a', config: { to: '{{ input.customer.email }}', all: '{{ input }}', n: 'n={{ input.items[0] }}' } },
      { id: 'b', dependsOn: ['a'], config: { v: '{{ a.output.v }} for {{ input.customer.id }}' }, compensation: { handler: 'echo', config: { why: '{{ input.reason }}' } } },
    ]);

    it('is accepted in a stored definition, with task references as usual', () => {
      expect(validateWorkflow(withInput, HANDLERS, { inputTemplates: true })).toEqual([]);
    });

    it('is refused in a workflow started with its tasks (it has no input)', () => {
      expect(validate(withInput).map((p) => p.field)).toEqual(['tasks[0].config.to', 'tasks[0].config.all', 'tasks[0].config.n', 'tasks[1].config.v', 'tasks[1].compensation.config.why']);
      expect(validate(wf([{ id: 'a', config: { to: '{{ input.email }}' } }]))).toEqual([
        { field: 'tasks[0].config.to', message: "{{ input.email }} reads the start's input, which only workflows started from a stored definition have" },
      ]);
    });

    it('leaves a task named input to mean that task outside definitions', () => {
      expect(validate(wf([{ id: 'input' }, { id: 'b', dependsOn: ['input'], config: { v: '{{ input.output.v }}' } }]))).toEqual([]);
    });

    it('names both forms in a definition when a template is malformed', () => {
      expect(validateWorkflow(wf([{ id: 'a', config: { v: '{{ inptu.x }}' } }]), HANDLERS, { inputTemplates: true })).toEqual([
        { field: 'tasks[0].config.v', message: 'malformed template reference {{ inptu.x }}: expected {{ taskId.output.path }} or {{ input.path }}' },
      ]);
    });
  });

  it('rejects malformed template references', () => {
    expect(validate(wf([{ id: 'a' }, { id: 'b', dependsOn: ['a'], config: { v: '{{ a.outptu.v }}' } }]))).toEqual([
      { field: 'tasks[1].config.v', message: 'malformed template reference {{ a.outptu.v }}: expected {{ taskId.output.path }}' },
    ]);
  });

  it('bounds maxParallel to 1..64', () => {
    for (const maxParallel of [0, 65, 1.5, -1]) {
      expect(validate(wf([{ id: 'a' }], { maxParallel }))).toEqual([{ field: 'maxParallel', message: 'must be an integer from 1 to 64' }]);
    }
    expect(validate(wf([{ id: 'a' }], { maxParallel: 1 }))).toEqual([]);
  });

  it('needs at least one task', () => {
    expect(validate(wf([]))).toEqual([{ field: 'tasks', message: 'must contain at least one task' }]);
    expect(validate({ name: 'x' } as TaskWorkflowInput)).toEqual([{ field: 'tasks', message: 'must be an array' }]);
  });

  it('rejects ids that do not match ^[A-Za-z0-9_-]{1,100}$', () => {
    const problems = validate(wf([{ id: '' }, { id: 'has space' }, { id: 'x'.repeat(101) }, { id: 'ok_ID-1' }, { id: 'a.b' }]));
    expect(problems.map((p) => p.field)).toEqual(['tasks[0].id', 'tasks[1].id', 'tasks[2].id', 'tasks[4].id']);
  });

  it('rejects bad priority, retry and timeout values', () => {
    const problems = validate(
      wf([
        {
          id: 'a',
          priority: 'URGENT' as WorkflowTask['priority'],
          retry: { maxAttempts: 0, backoffMs: -1 },
          timeoutMs: 0,
        },
      ]),
    );
    expect(problems.map((p) => p.field)).toEqual(['tasks[0].priority', 'tasks[0].retry.maxAttempts', 'tasks[0].retry.backoffMs', 'tasks[0].timeoutMs']);
  });

  it('copes with malformed input without throwing', () => {
    expect(validate(null as unknown as TaskWorkflowInput)).toEqual([{ field: '', message: 'must be an object' }]);
    const problems = validate({ name: 'x', tasks: [42, { id: 'a', dependsOn: 'b' }] } as unknown as TaskWorkflowInput);
    expect(problems.map((p) => p.field)).toEqual(['tasks[0]', 'tasks[1].handler', 'tasks[1].dependsOn']);
  });

  it('handles a long chain without recursion limits', () => {
    const tasks = Array.from({ length: 5_000 }, (_, i) => ({ id: `t${i}`, dependsOn: i === 0 ? [] : [`t${i - 1}`] }));
    expect(validate(wf(tasks))).toEqual([]);
  });
});
