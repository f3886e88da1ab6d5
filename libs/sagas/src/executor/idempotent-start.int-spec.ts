import { createPool, createTestDatabase, TestDatabase } from '@app/database';
import { createSagaRuntime } from '../testing/saga-test-kit';
import { createTenant, errorOf, waitForStatus } from '../testing/int-spec-helpers';
import { IdempotencyConflictError, SagaInputError } from './start';

// Starting a saga with an Idempotency-Key: the same request gives the same saga, another body a
// conflict, and concurrent starts agree on one saga.

jest.setTimeout(60_000);

let tdb: TestDatabase;
let rt: ReturnType<typeof createSagaRuntime>;
const tenantId = 'idem-tenant';

beforeAll(async () => {
  // 10 concurrent starts below: a start may take a second connection while it holds one.
  tdb = await createTestDatabase({ poolSize: 12 });
  rt = createSagaRuntime(tdb.pool, { pollIntervalMs: 50 });
  await createTenant(rt.commands, tenantId, { cpuMillis: 1000, memoryMb: 1000 }, ['read']);
});
afterAll(async () => {
  await rt?.executor.stopWorker();
  await tdb?.drop();
});

const workflow = (v: number) => ({ name: 'idem', tasks: [{ id: 'a', handler: 'echo', dependsOn: [], config: { v } }] });

/** SagaStarted events recorded for an idempotency key (of any saga). */
async function sagaStartedFor(key: string): Promise<string[]> {
  const { rows } = await tdb.pool.query(
    `select data->>'sagaId' as saga_id from events where type = 'SagaStarted' and data->>'idempotencyKey' = $1`,
    [key],
  );
  return rows.map((r) => r.saga_id);
}

describe('idempotent start', () => {
  it('returns the same saga for the same key and input, and records one SagaStarted', async () => {
    const first = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(1), idempotencyKey: 'key-same' });
    // Key order in the body does not matter.
    const again = await rt.executor.start({
      tenantId,
      sagaType: 'task-workflow',
      input: { tasks: [{ config: { v: 1 }, dependsOn: [], handler: 'echo', id: 'a' }], name: 'idem' },
      idempotencyKey: 'key-same',
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ sagaId: first.sagaId, created: false });
    expect(await sagaStartedFor('key-same')).toEqual([first.sagaId]);

    // Once it has run, the repeated start still answers with that saga and its current status.
    await rt.executor.startWorker();
    await waitForStatus(rt.executor, first.sagaId, 'COMPLETED');
    const later = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(1), idempotencyKey: 'key-same' });
    expect(later).toEqual({ sagaId: first.sagaId, status: 'COMPLETED', created: false });
    expect(await sagaStartedFor('key-same')).toEqual([first.sagaId]);
  });

  it('refuses the same key with another input (IdempotencyConflictError) and writes nothing', async () => {
    const first = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(1), idempotencyKey: 'key-conflict' });
    // (The worker may still be running the first saga: count what a start would write.)
    const count = async () =>
      Number((await tdb.pool.query(`select count(*) from events where type = 'SagaStarted'`)).rows[0].count) +
      Number((await tdb.pool.query('select count(*) from saga_idempotency')).rows[0].count);
    const before = await count();
    const err = await errorOf(() =>
      rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(2), idempotencyKey: 'key-conflict' }),
    );
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(err).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', sagaId: first.sagaId });
    expect(await sagaStartedFor('key-conflict')).toEqual([first.sagaId]);
    // A different saga type with the same key is another body too.
    const other = await errorOf(() =>
      rt.executor.start({
        tenantId,
        sagaType: 'agent-provisioning',
        input: { agent: { name: 'x', type: 't', capabilities: [], permissions: [], resources: { cpuMillis: 1, memoryMb: 1 } } },
        idempotencyKey: 'key-conflict',
      }),
    );
    expect(other).toBeInstanceOf(IdempotencyConflictError);
    expect(await count()).toBe(before);
  });

  it('scopes keys per tenant', async () => {
    await createTenant(rt.commands, 'idem-other', { cpuMillis: 1000, memoryMb: 1000 }, ['read']);
    const a = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(1), idempotencyKey: 'key-tenants' });
    const b = await rt.executor.start({ tenantId: 'idem-other', sagaType: 'task-workflow', input: workflow(1), idempotencyKey: 'key-tenants' });
    expect(b.created).toBe(true);
    expect(b.sagaId).not.toBe(a.sagaId);
  });

  it('an invalid input is refused before the key is taken', async () => {
    const bad = { name: 'idem', tasks: [{ id: 'a', handler: 'no-such-handler', dependsOn: [] }] };
    const err = await errorOf(() => rt.executor.start({ tenantId, sagaType: 'task-workflow', input: bad, idempotencyKey: 'key-invalid' }));
    expect(err).toBeInstanceOf(SagaInputError);
    const ok = await rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(3), idempotencyKey: 'key-invalid' });
    expect(ok.created).toBe(true);
  });

  it('10 concurrent starts with the same key create exactly one saga', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        rt.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(7), idempotencyKey: 'key-race' }),
      ),
    );
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(rejected).toEqual([]);
    const values = results.map((r) => (r as PromiseFulfilledResult<{ sagaId: string; created: boolean }>).value);
    expect(new Set(values.map((v) => v.sagaId)).size).toBe(1);
    expect(values.filter((v) => v.created)).toHaveLength(1);
    expect(await sagaStartedFor('key-race')).toEqual([values[0].sagaId]);
    const { rows } = await tdb.pool.query(`select saga_id from saga_idempotency where tenant_id = $1 and idempotency_key = 'key-race'`, [tenantId]);
    expect(rows.map((r) => r.saga_id)).toEqual([values[0].sagaId]);
    await waitForStatus(rt.executor, values[0].sagaId, 'COMPLETED');
  });
});

describe('start under load', () => {
  it('as many concurrent starts as the pool has connections all return promptly', async () => {
    // A pool like the API's, only smaller: a start must not need a second connection while it
    // holds the first, or N concurrent starts on a pool of N wait for one another until the
    // pool's connection timeout.
    const small = createPool(tdb.url, { max: 4, connectionTimeoutMillis: 10_000 });
    try {
      const api = createSagaRuntime(small);
      const startedAt = Date.now();
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) => api.executor.start({ tenantId, sagaType: 'task-workflow', input: workflow(100 + i) })),
      );
      const elapsed = Date.now() - startedAt;
      expect(new Set(results.map((r) => r.sagaId)).size).toBe(4);
      expect(elapsed).toBeLessThan(3_000);
    } finally {
      await small.end();
    }
  });
});
