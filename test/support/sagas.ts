import { randomUUID } from 'crypto';
import { SagaExecutor } from '@app/sagas';
import { bearer, E2eContext, TenantKeys } from './e2e-app';

/** An agent to provision: a worker with a fresh name unless `over` replaces it (or any other field). */
export const agentSpec = (over: Record<string, unknown> = {}) => ({
  name: `agent-${randomUUID().slice(0, 8)}`,
  type: 'worker',
  capabilities: ['invoices'],
  permissions: ['read'],
  resources: { cpuMillis: 10, memoryMb: 16 },
  ...over,
});

/** The body of POST /v1/sagas/agent-provisioning for `agentSpec(over)`. */
export const provisioningBody = (over: Record<string, unknown> = {}) => ({ agent: agentSpec(over) });

/** POST /v1/sagas/{type} with `key`: the response, status unchecked. */
export const postSaga = (ctx: E2eContext, key: string, type: 'agent-provisioning' | 'task-workflow', body: object) =>
  ctx.http().post(`/v1/sagas/${type}`).set(bearer(key)).send(body);

/** Starts an agent-provisioning saga over HTTP (falls back to the executor if the route is absent). */
export async function provisionAgent(ctx: E2eContext, t: TenantKeys, agent: Record<string, unknown>): Promise<string> {
  const res = await postSaga(ctx, t.client, 'agent-provisioning', { agent });
  if (res.status === 202) return res.body.sagaId;
  if (res.status !== 404) throw new Error(`saga start failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (await ctx.app.get(SagaExecutor).start({ tenantId: t.tenantId, sagaType: 'agent-provisioning', input: { agent } })).sagaId;
}
