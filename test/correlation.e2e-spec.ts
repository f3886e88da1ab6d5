import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp } from './support/e2e-app';

jest.setTimeout(120_000);

/** The correlation id of a request lands in the metadata of every event it causes. */
describe('correlation ids', () => {
  let ctx: E2eContext;
  beforeAll(async () => {
    ctx = await startE2eApp();
  });
  afterAll(async () => ctx?.close());

  it('a start with X-Correlation-Id: every saga event and every domain event of the saga carry it', async () => {
    const t = await ctx.tenant();
    const correlationId = `req-${Date.now()}`;
    const started = await ctx
      .http()
      .post('/v1/sagas/agent-provisioning')
      .set(bearer(t.client))
      .set('X-Correlation-Id', correlationId)
      .send({
        agent: {
          name: 'tracer',
          type: 'llm',
          capabilities: ['chat'],
          permissions: ['read'],
          resources: { cpuMillis: 100, memoryMb: 64 },
          initialTask: { name: 'smoke', handler: 'echo' },
        },
      });
    expect(started.status).toBe(202);
    expect(started.headers['x-correlation-id']).toBe(correlationId);
    const { sagaId } = started.body;
    await waitFor(async () => (await ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(t.client))).body.status === 'COMPLETED');
    const { rows } = await ctx.db.pool.query<{ stream_id: string; type: string; correlation: string | null; causation: string | null }>(
      `select stream_id, type, metadata->>'correlationId' as correlation, metadata->>'causationId' as causation
         from events
        where stream_id = $1 or (data->>'sagaId') = $2 or stream_id like 'service-%' and tenant_id = $3
        order by global_position`,
      [`saga-${sagaId}`, sagaId, t.tenantId],
    );
    const sagaEvents = rows.filter((r) => r.stream_id === `saga-${sagaId}`);
    expect(sagaEvents.length).toBeGreaterThanOrEqual(14);
    expect(rows.filter((r) => r.correlation !== correlationId)).toEqual([]);
    // Each saga transition after the first is caused by the saga's previous event.
    expect(sagaEvents.slice(1).every((r) => r.causation?.startsWith(`saga-${sagaId}@`))).toBe(true);
    // Domain events of the saga's steps are there too (agent, quota, service, task streams).
    expect(new Set(rows.map((r) => r.stream_id.split('-')[0]))).toEqual(new Set(['saga', 'agent', 'service', 'task']));
  });
});
