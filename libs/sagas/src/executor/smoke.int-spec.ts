import { createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';

let tdb: TestDatabase;
beforeAll(async () => { tdb = await createTestDatabase(); });
afterAll(async () => { await tdb.drop(); });

const waitFor = async (f: () => Promise<boolean>, ms = 20000) => { const end = Date.now() + ms; while (Date.now() < end) { if (await f()) return; await new Promise(r => setTimeout(r, 50)); } throw new Error('timeout'); };

it('runs an agent provisioning and a compensating one', async () => {
  const rt = createSagaRuntime(tdb.pool, { pollIntervalMs: 50 });
  await rt.commands.dispatch({ aggregate: 'tenant', id: 'acme', tenantId: 'acme', command: { type: 'CreateTenant', data: { tenantId: 'acme', name: 'Acme', quota: { cpuMillis: 4000, memoryMb: 8192 }, allowedPermissions: ['read', 'write'] } } });
  await rt.commands.dispatch({ aggregate: 'quota', id: 'acme', tenantId: 'acme', command: { type: 'SetQuota', data: { cpuMillis: 4000, memoryMb: 8192 } } });
  await rt.executor.startWorker();
  const ok = await rt.executor.start({ tenantId: 'acme', sagaType: 'agent-provisioning', input: { agent: { name: 'a1', type: 'llm', capabilities: ['chat'], permissions: ['read'], resources: { cpuMillis: 500, memoryMb: 512 }, initialTask: { name: 'smoke', handler: 'echo', config: { hi: 1 } } } } });
  const bad = await rt.executor.start({ tenantId: 'acme', sagaType: 'agent-provisioning', input: { agent: { name: 'a2', type: 'llm', capabilities: ['chat'], permissions: ['admin'], resources: { cpuMillis: 500, memoryMb: 512 } } } });
  await waitFor(async () => (await rt.executor.load(ok.sagaId))!.state.status === 'COMPLETED');
  await waitFor(async () => (await rt.executor.load(bad.sagaId))!.state.status === 'COMPENSATED');
  const s = (await rt.executor.load(bad.sagaId))!.state;
  console.log(JSON.stringify(s.compensations), s.completionOrder);
  const wf = await rt.executor.start({ tenantId: 'acme', sagaType: 'task-workflow', input: { name: 'wf', tasks: [
    { id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 } },
    { id: 'b', handler: 'echo', dependsOn: ['a'], config: { x: '{{ a.output.v }}' } },
    { id: 'c', handler: 'echo', dependsOn: ['a'], config: { y: 'v={{ a.output.v }}' } },
    { id: 'd', handler: 'transform', dependsOn: ['b', 'c'], config: { merge: ['{{ b.output }}', '{{ c.output }}'] } },
  ] } });
  await waitFor(async () => (await rt.executor.load(wf.sagaId))!.state.status === 'COMPLETED');
  console.log(JSON.stringify((await rt.executor.load(wf.sagaId))!.state.steps.d));
  await rt.executor.stopWorker();
});
