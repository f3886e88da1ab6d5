import { DeciderSpecification } from '../testing/decider-specification';
import { DefineWorkflowVersion } from './workflow-definition.commands';
import { workflowDefinitionDecider, workflowDefinitionId, workflowDefinitionStreamId, workflowVersionOf } from './workflow-definition.decider';
import { WorkflowVersionDefined } from './workflow-definition.events';

const spec = DeciderSpecification.for(workflowDefinitionDecider);

const body = { description: 'charge then ship', tasks: [{ id: 'charge', handler: 'echo', dependsOn: [], config: { amount: '{{ input.amount }}' } }] };
const body2 = { ...body, maxParallel: 2 };

const define = (over: Partial<DefineWorkflowVersion['data']> = {}): DefineWorkflowVersion => ({
  type: 'DefineWorkflowVersion',
  data: { tenantId: 'acme', name: 'checkout', definition: body, at: '2030-01-01T00:00:00.000Z', ...over },
});
const defined = (version: number, definition: Record<string, unknown> = body, createdAt = '2030-01-01T00:00:00.000Z'): WorkflowVersionDefined => ({
  type: 'WorkflowVersionDefined',
  data: { tenantId: 'acme', name: 'checkout', version, definition, createdAt },
});

describe('workflow definition decider', () => {
  it('keeps tenants apart: the stream is workflowdef-<tenant>.<name>, a valid stream id', () => {
    expect(workflowDefinitionId('acme', 'checkout')).toBe('acme.checkout');
    expect(workflowDefinitionStreamId('acme-eu', 'check-out')).toBe('workflowdef-acme-eu.check-out');
    expect(workflowDefinitionStreamId('a'.repeat(40), 'n'.repeat(100))).toMatch(/^[A-Za-z0-9_.]{1,100}-[A-Za-z0-9_.-]{1,200}$/);
  });

  describe('DefineWorkflowVersion', () => {
    it('stores version 1 of a new definition', () => {
      spec.given([]).when(define()).then([defined(1)]);
    });

    it('stores the latest + 1 when no version is given', () => {
      spec.given([defined(1), defined(2, body2)]).when(define({ definition: body2 })).then([defined(3, body2)]);
      spec.given([defined(5)]).when(define()).then([defined(6)]);
    });

    it('stores an explicit version that does not exist yet', () => {
      spec.given([defined(1)]).when(define({ version: 7, definition: body2 })).then([defined(7, body2)]);
    });

    it('writes nothing for an existing version with the same body (in any key order): a retry', () => {
      spec.given([defined(1), defined(2, body2)]).when(define({ version: 1, definition: { tasks: body.tasks, description: body.description } })).thenNothing();
    });

    it('refuses an existing version with another body: versions never change', () => {
      spec.given([defined(1)]).when(define({ version: 1, definition: body2 })).thenThrows('WORKFLOW_VERSION_EXISTS', { name: 'checkout', version: 1 });
      spec.given([defined(1)]).when(define({ version: 1, definition: { ...body, description: 'other' } })).thenThrows('WORKFLOW_VERSION_EXISTS');
    });

    it('refuses a bad name or version', () => {
      spec.given([]).when(define({ name: 'Check Out' })).thenThrows('INVALID_WORKFLOW_DEFINITION', { name: 'Check Out' });
      spec.given([]).when(define({ name: 'x'.repeat(101) })).thenThrows('INVALID_WORKFLOW_DEFINITION');
      for (const version of [0, -1, 1.5, 2_147_483_648]) spec.given([]).when(define({ version })).thenThrows('INVALID_WORKFLOW_DEFINITION', { version });
    });

    it('keeps every version and knows the latest, whatever order they were stored in', () => {
      spec
        .given([defined(2, body2, 't2'), defined(1, body, 't1')])
        .when(define({ definition: { tasks: [] }, at: 't3' }))
        .thenState((state) => {
          expect(state).toMatchObject({ status: 'DEFINED', latestVersion: 3 });
          expect(workflowVersionOf(state)).toEqual({ version: 3, createdAt: 't3', definition: { tasks: [] } });
          expect(workflowVersionOf(state, 1)).toEqual({ version: 1, createdAt: 't1', definition: body });
          expect(workflowVersionOf(state, 4)).toBeUndefined();
          if (state.status === 'DEFINED') expect(state.versions.map((v) => v.version)).toEqual([1, 2, 3]);
        });
    });

    it('knows no version of a definition that does not exist', () => {
      expect(workflowVersionOf(spec.given([]).state)).toBeUndefined();
    });
  });
});
