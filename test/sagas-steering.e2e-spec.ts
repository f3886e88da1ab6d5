import { randomUUID } from 'crypto';
import { createServer, Server } from 'http';
import { AddressInfo, Socket } from 'net';
import { delay, waitFor } from '@app/database';
import { DeliveredMessage, MESSAGE_BUS, MessageBus, Subscription } from '@app/messaging';
import { bearer, E2eContext, startE2eAppWithTenants, TenantKeys } from './support/e2e-app';
import { postSaga, provisioningBody } from './support/sagas';

jest.setTimeout(120_000);

/**
 * Steering a saga over HTTP (API.md "Sagas", "Integration events"; DESIGN.md "Steering a saga"):
 * onFailure `suspend` with resume / compensate, signals for `wait` tasks, `startAt`, cancel that
 * interrupts the effect in flight, and progress.
 */

interface StepView {
  name: string;
  status: string;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  output?: unknown;
  error?: string;
  errorCode?: string;
  waitingFor?: { signal: string };
}
interface SagaView {
  sagaId: string;
  status: string;
  steps: StepView[];
  progress: { completedSteps: number; totalSteps: number; percent: number };
  version: number;
}
interface StoredEvent {
  type: string;
  version: number;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}
interface IntegrationEvent {
  type: string;
  eventId: string;
  sagaId: string;
  tenantId: string;
  data: Record<string, unknown>;
  at: string;
}

const PROBLEM = /application\/problem\+json/;
/** The cancel promise is 2 s; the API's answer, polling and a shared 2-core machine add a little. */
const CANCEL_BOUND_MS = 2500;

describe('sagas: steering (suspend, resume, compensate, signals, startAt, interrupting cancel, progress)', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  let other: TenantKeys;
  let bus: MessageBus;
  let subscription: Subscription;
  const published: IntegrationEvent[] = [];

  beforeAll(async () => {
    ({ ctx, t, other } = await startE2eAppWithTenants({ redis: true }));
    bus = ctx.app.get<MessageBus>(MESSAGE_BUS);
    // A group of our own from now on: the shared topic also carries other spec files' events.
    subscription = await bus.subscribe('saga.events', `e2e-steering-${randomUUID()}`, async (m: DeliveredMessage) => {
      const payload = m.payload as IntegrationEvent;
      if (payload.tenantId === t.tenantId) published.push(payload);
    });
  });
  afterAll(async () => {
    await subscription?.close();
    await ctx?.close();
  });

  const view = async (sagaId: string, key = t.client): Promise<SagaView> => {
    const res = await ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(key));
    expect(res.status).toBe(200);
    return res.body;
  };
  const step = (saga: SagaView, name: string) => saga.steps.find((s) => s.name === name)!;
  const statuses = (saga: SagaView) => Object.fromEntries(saga.steps.map((s) => [s.name, s.status]));
  const settle = (sagaId: string, status: string, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const saga = await view(sagaId);
        return saga.status === status ? saga : undefined;
      },
      { timeoutMs, what: `saga ${sagaId} ${status}` },
    );
  const untilStep = (sagaId: string, name: string, status: string, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const saga = await view(sagaId);
        return step(saga, name)?.status === status ? saga : undefined;
      },
      { timeoutMs, what: `step ${name} of ${sagaId} ${status}` },
    );
  const events = async (sagaId: string): Promise<StoredEvent[]> => {
    const res = await ctx.http().get(`/v1/sagas/${sagaId}/events?limit=1000`).set(bearer(t.client));
    expect(res.status).toBe(200);
    return res.body.events;
  };
  const startWorkflow = async (body: object, key = t.client): Promise<{ sagaId: string; status: string }> => {
    const res = await postSaga(ctx, key, 'task-workflow', body);
    expect(res.status).toBe(202);
    return res.body;
  };
  const operate = (sagaId: string, action: string, body: object, key = t.operator) =>
    ctx.http().post(`/v1/sagas/${sagaId}/${action}`).set(bearer(key)).send(body);
  const sendSignal = (sagaId: string, name: string, body: object = {}, key = t.client) =>
    ctx.http().post(`/v1/sagas/${sagaId}/signals/${name}`).set(bearer(key)).send(body);
  /** The integration events published for `sagaId` so far, by public type. */
  const publishedTypes = (sagaId: string) => published.filter((e) => e.sagaId === sagaId).map((e) => e.type);
  const listed = async (status: string): Promise<string[]> => {
    const res = await ctx.http().get(`/v1/sagas?status=${status}&limit=500`).set(bearer(t.client));
    expect(res.status).toBe(200);
    return res.body.items.map((i: { sagaId: string }) => i.sagaId);
  };
  const untilPublished = (sagaId: string, type: string) =>
    waitFor(() => published.find((e) => e.sagaId === sagaId && e.type === type), { timeoutMs: 15_000, what: `${type} of ${sagaId} on Redis` });

  describe('onFailure: suspend', () => {
    /** s1 → s2 → s3 (fails for good after 2 attempts) → s4; s1, s2 can be undone. */
    const suspending = (name: string) => ({
      name,
      onFailure: 'suspend',
      tasks: [
        { id: 's1', handler: 'echo', dependsOn: [], config: { n: 1 }, compensation: { handler: 'noop' } },
        { id: 's2', handler: 'echo', dependsOn: ['s1'], config: { n: 2 }, compensation: { handler: 'noop' } },
        { id: 's3', handler: 'fail', dependsOn: ['s2'], config: { message: 'vendor down' }, retry: { maxAttempts: 2, backoffMs: 10 } },
        { id: 's4', handler: 'echo', dependsOn: ['s3'], config: { n: 4 } },
      ],
    });

    it('a final failure of step 3 suspends the saga with steps 1–2 untouched; resume with a corrected config completes it (actor, reason, saga.suspended then saga.resumed)', async () => {
      const { sagaId } = await startWorkflow(suspending('suspend-resume'));
      const suspended = await settle(sagaId, 'SUSPENDED');
      expect(statuses(suspended)).toEqual({ s1: 'SUCCEEDED', s2: 'SUCCEEDED', s3: 'FAILED', s4: 'PENDING' });
      expect(step(suspended, 's1')).toMatchObject({ attempts: 1, output: { n: 1 } });
      expect(step(suspended, 's2')).toMatchObject({ attempts: 1, output: { n: 2 } });
      expect(step(suspended, 's3')).toMatchObject({ attempts: 2, error: 'vendor down' });
      expect(suspended.progress).toEqual({ completedSteps: 2, totalSteps: 4, percent: 50 });
      // Nothing moves while it waits for an operator.
      await delay(500);
      const still = await view(sagaId);
      expect(still.status).toBe('SUSPENDED');
      expect(still.version).toBe(suspended.version);
      const before = await events(sagaId);
      const suspendedEvent = before.find((e) => e.type === 'SagaSuspended')!;
      expect(suspendedEvent.data).toMatchObject({ step: 's3', error: 'vendor down' });
      expect(before.filter((e) => e.type === 'StepFailed').map((e) => e.data.final)).toEqual([false, true]);
      expect(before.map((e) => e.type)).not.toContain('CompensationStarted');
      await untilPublished(sagaId, 'saga.suspended');
      // The read model lists it as SUSPENDED.
      await waitFor(async () => (await listed('SUSPENDED')).includes(sagaId), { what: 'the saga listed as SUSPENDED' });

      // Who may resume, and with what body.
      const path = `/v1/sagas/${sagaId}/resume`;
      expect((await ctx.http().post(path).send({ reason: 'x' })).status).toBe(401);
      expect((await operate(sagaId, 'resume', { reason: 'x' }, t.client)).status).toBe(403);
      expect((await operate(sagaId, 'resume', { reason: 'x' }, other.operator)).status).toBe(404);
      expect((await operate(randomUUID(), 'resume', { reason: 'x' })).status).toBe(404);
      for (const body of [{}, { reason: '' }, { reason: 'x', config: 'not an object' }, { reason: 'x', config: [1] }, { reason: 'x', extra: 1 }]) {
        const res = await operate(sagaId, 'resume', body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
      }
      expect((await view(sagaId)).status).toBe('SUSPENDED');

      const res = await operate(sagaId, 'resume', { reason: 'vendor endpoint fixed', config: { failTimes: 0 } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ sagaId, status: expect.stringMatching(/^(RUNNING|COMPLETED)$/) });
      const done = await settle(sagaId, 'COMPLETED');
      expect(statuses(done)).toEqual({ s1: 'SUCCEEDED', s2: 'SUCCEEDED', s3: 'SUCCEEDED', s4: 'SUCCEEDED' });
      // Fresh attempts with growing numbers: the corrected `fail` config succeeds on attempt 3.
      expect(step(done, 's3')).toMatchObject({ attempts: 3, output: { succeededOnAttempt: 3 } });
      expect(step(done, 's3').error).toBeUndefined();
      expect(step(done, 's1')).toMatchObject({ attempts: 1, finishedAt: step(suspended, 's1').finishedAt });
      expect(done.progress).toEqual({ completedSteps: 4, totalSteps: 4, percent: 100 });

      const all = await events(sagaId);
      const resumed = all.find((e) => e.type === 'SagaResumed')!;
      expect(resumed.data).toEqual({
        actor: expect.stringMatching(/^key:/),
        reason: 'vendor endpoint fixed',
        step: 's3',
        steps: ['s3'],
        config: { failTimes: 0 },
        at: expect.any(String),
      });
      expect(resumed.metadata).toMatchObject({ actor: resumed.data.actor });
      // s1 and s2 ran once: no StepStarted for them after the resume.
      const started = all.filter((e) => e.type === 'StepStarted').map((e) => `${e.data.step}#${e.data.attempt}`);
      expect(started).toEqual(['s1#1', 's2#1', 's3#1', 's3#2', 's3#3', 's4#1']);

      await untilPublished(sagaId, 'saga.completed');
      const types = publishedTypes(sagaId);
      expect(types.indexOf('saga.suspended')).toBeGreaterThan(-1);
      expect(types.indexOf('saga.resumed')).toBeGreaterThan(types.indexOf('saga.suspended'));
      expect(types.indexOf('saga.completed')).toBeGreaterThan(types.indexOf('saga.resumed'));
      expect(types).not.toContain('saga.compensating');
      const resumedEvent = published.find((e) => e.sagaId === sagaId && e.type === 'saga.resumed')!;
      expect(resumedEvent).toMatchObject({ tenantId: t.tenantId, eventId: expect.any(String), at: expect.any(String), data: { reason: 'vendor endpoint fixed', step: 's3' } });

      // Finished: resume and compensate are refused.
      expect((await operate(sagaId, 'resume', { reason: 'again' })).status).toBe(422);
      expect((await operate(sagaId, 'compensate', { reason: 'again' })).status).toBe(422);
    });

    it('compensate on a SUSPENDED saga undoes steps 2 then 1 (exact reverse order) and publishes saga.rolled_back', async () => {
      const { sagaId } = await startWorkflow(suspending('suspend-compensate'));
      await settle(sagaId, 'SUSPENDED');
      expect((await operate(sagaId, 'compensate', {})).status).toBe(400);
      expect((await operate(sagaId, 'compensate', { reason: 'x' }, t.client)).status).toBe(403);
      const res = await operate(sagaId, 'compensate', { reason: 'order withdrawn' });
      expect(res.status).toBe(202);
      const done = await settle(sagaId, 'COMPENSATED');
      expect(statuses(done)).toEqual({ s1: 'COMPENSATED', s2: 'COMPENSATED', s3: 'FAILED', s4: 'PENDING' });

      const log = await ctx.http().get(`/v1/sagas/${sagaId}/compensations`).set(bearer(t.client));
      expect(log.status).toBe(200);
      expect(log.body.status).toBe('COMPENSATED');
      expect(log.body.entries.map((e: { step: string; status: string }) => `${e.status} ${e.step}`)).toEqual([
        'STARTED s2',
        'SUCCEEDED s2',
        'STARTED s1',
        'SUCCEEDED s1',
      ]);
      const all = await events(sagaId);
      expect(all.find((e) => e.type === 'CompensationStarted')!.data).toMatchObject({ reason: 'order withdrawn', actor: expect.stringMatching(/^key:/) });
      expect(all[all.length - 1]).toMatchObject({ type: 'SagaCompensated', data: { rolledBack: true } });

      await untilPublished(sagaId, 'saga.rolled_back');
      const types = publishedTypes(sagaId);
      expect(types.indexOf('saga.rolled_back')).toBeGreaterThan(types.indexOf('saga.compensated'));
      expect(types.indexOf('saga.compensated')).toBeGreaterThan(types.indexOf('saga.suspended'));
      expect(types).not.toContain('saga.resumed');
      // Second compensate, resume after it: refused.
      expect((await operate(sagaId, 'compensate', { reason: 'again' })).status).toBe(422);
      expect((await operate(sagaId, 'resume', { reason: 'again' })).status).toBe(422);
    });

    it('a saga that fails without onFailure compensates on its own: saga.compensated but no saga.rolled_back', async () => {
      const { sagaId } = await startWorkflow({ ...suspending('plain-failure'), onFailure: undefined });
      await settle(sagaId, 'COMPENSATED');
      await untilPublished(sagaId, 'saga.compensated');
      await delay(300);
      expect(publishedTypes(sagaId)).not.toContain('saga.rolled_back');
      expect(publishedTypes(sagaId)).not.toContain('saga.suspended');
    });

    it('resume and compensate on a RUNNING saga → 422 (only SUSPENDED)', async () => {
      const { sagaId } = await startWorkflow({ name: 'running', onFailure: 'suspend', tasks: [{ id: 'slow', handler: 'delay', dependsOn: [], config: { ms: 3000 } }] });
      await untilStep(sagaId, 'slow', 'RUNNING');
      const resumed = await operate(sagaId, 'resume', { reason: 'nothing to resume' });
      expect(resumed.status).toBe(422);
      expect(resumed.headers['content-type']).toMatch(PROBLEM);
      expect(resumed.body).toMatchObject({ status: 422, code: 'SAGA_NOT_SUSPENDED' });
      expect((await operate(sagaId, 'compensate', { reason: 'no' })).status).toBe(422);
      expect((await view(sagaId)).status).toBe('RUNNING');
      expect((await events(sagaId)).map((e) => e.type)).not.toContain('SagaResumed');
    });

    it('two resumes racing: exactly one is applied (202), the other is refused (422)', async () => {
      const { sagaId } = await startWorkflow(suspending('double-resume'));
      await settle(sagaId, 'SUSPENDED');
      const answers = await Promise.all([
        operate(sagaId, 'resume', { reason: 'first', config: { failTimes: 0 } }),
        operate(sagaId, 'resume', { reason: 'second', config: { failTimes: 0 } }),
      ]);
      expect(answers.map((r) => r.status).sort()).toEqual([202, 422]);
      await settle(sagaId, 'COMPLETED');
      expect((await events(sagaId)).filter((e) => e.type === 'SagaResumed')).toHaveLength(1);
    });

    it('resume and cancel racing: whichever commits second is refused or applies to the new state; the saga ends COMPENSATED', async () => {
      const { sagaId } = await startWorkflow(suspending('resume-vs-cancel'));
      await settle(sagaId, 'SUSPENDED');
      // Without a corrected config the resumed step fails again: the saga never completes.
      const [resumed, cancelled] = await Promise.all([operate(sagaId, 'resume', { reason: 'try again' }), operate(sagaId, 'cancel', { reason: 'give up' })]);
      // cancel applies to SUSPENDED and RUNNING (and a resumed saga that suspended again): always 202.
      expect(cancelled.status).toBe(202);
      expect([202, 422]).toContain(resumed.status);
      const done = await settle(sagaId, 'COMPENSATED');
      expect(step(done, 's1').status).toBe('COMPENSATED');
      expect(step(done, 's2').status).toBe('COMPENSATED');
      const types = (await events(sagaId)).map((e) => e.type);
      expect(types.filter((t) => t === 'SagaResumed')).toHaveLength(resumed.status === 202 ? 1 : 0);
      if (resumed.status === 422) expect(types.indexOf('SagaCancelRequested')).toBeGreaterThan(types.indexOf('SagaSuspended'));
      else expect(types.indexOf('SagaCancelRequested')).toBeGreaterThan(types.indexOf('SagaResumed'));
      await untilPublished(sagaId, 'saga.rolled_back');
    });

    it('resume with config on an agent provisioning → 400; cancel of a SUSPENDED saga compensates it', async () => {
      // A permission the tenant does not allow: grant-permissions fails for good.
      const res = await postSaga(ctx, t.client, 'agent-provisioning', { ...provisioningBody({ permissions: ['root'] }), onFailure: 'suspend' });
      expect(res.status).toBe(202);
      const sagaId = res.body.sagaId as string;
      const suspended = await settle(sagaId, 'SUSPENDED');
      expect(step(suspended, 'grant-permissions').status).toBe('FAILED');
      expect(step(suspended, 'register-agent').status).toBe('SUCCEEDED');
      const withConfig = await operate(sagaId, 'resume', { reason: 'fix', config: { permissions: ['read'] } });
      expect(withConfig.status).toBe(400);
      expect(withConfig.headers['content-type']).toMatch(PROBLEM);
      expect((await view(sagaId)).status).toBe('SUSPENDED');

      expect((await operate(sagaId, 'cancel', { reason: 'not needed' })).status).toBe(202);
      const done = await settle(sagaId, 'COMPENSATED');
      expect(step(done, 'register-agent').status).toBe('COMPENSATED');
      await untilPublished(sagaId, 'saga.rolled_back');
    });
  });

  describe('signals and wait tasks', () => {
    /** prepare → approve (wait for `approved`) → notify (echo of the approver). `before`: a task before the wait. */
    const approval = (name: string, before?: object) => ({
      name,
      tasks: [
        before ?? { id: 'prepare', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
        { id: 'approve', handler: 'wait', dependsOn: ['prepare'], config: { signal: 'approved' } },
        { id: 'notify', handler: 'echo', dependsOn: ['approve'], config: { by: '{{ approve.output.by }}', note: 'approved by {{ approve.output.by }}' } },
      ],
    });
    let completedSagaId: string;

    it('a wait for `approved` completes with the signal’s payload as output, used by a later step’s template', async () => {
      const { sagaId } = await startWorkflow(approval('approval'));
      const waiting = await untilStep(sagaId, 'approve', 'RUNNING');
      expect(step(waiting, 'approve').waitingFor).toEqual({ signal: 'approved' });
      // It waits (no timeout): still RUNNING a moment later.
      await delay(400);
      expect(step(await view(sagaId), 'approve').status).toBe('RUNNING');

      const res = await sendSignal(sagaId, 'approved', { signalId: 'approval-1', payload: { by: 'alice', level: 2 } });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ sagaId, name: 'approved', signalId: 'approval-1', accepted: true });
      const done = await settle(sagaId, 'COMPLETED');
      expect(step(done, 'approve')).toMatchObject({ status: 'SUCCEEDED', output: { by: 'alice', level: 2 } });
      expect(step(done, 'approve').waitingFor).toBeUndefined();
      expect(step(done, 'notify').output).toEqual({ by: 'alice', note: 'approved by alice' });
      const all = await events(sagaId);
      expect(all.find((e) => e.type === 'SignalReceived')!.data).toMatchObject({ name: 'approved', signalId: 'approval-1', payload: { by: 'alice', level: 2 } });
      expect(all.find((e) => e.type === 'StepSucceeded' && e.data.step === 'approve')!.data).toMatchObject({ signalId: 'approval-1', output: { by: 'alice', level: 2 } });
      completedSagaId = sagaId;
    });

    it('a signal sent before the wait starts is kept for it (a 1500 ms delay before the wait)', async () => {
      const { sagaId } = await startWorkflow(approval('early-signal', { id: 'prepare', handler: 'delay', dependsOn: [], config: { ms: 1500 } }));
      const res = await sendSignal(sagaId, 'approved', { payload: { by: 'bob' } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ accepted: true, signalId: expect.any(String) });
      // The signal is in before the wait started.
      const atSignal = await view(sagaId);
      expect(step(atSignal, 'approve').status).toBe('PENDING');
      const done = await settle(sagaId, 'COMPLETED');
      expect(step(done, 'approve').output).toEqual({ by: 'bob' });
      expect(step(done, 'notify').output).toEqual({ by: 'bob', note: 'approved by bob' });
      const types = (await events(sagaId)).map((e) => `${e.type}${e.data.step ? `:${e.data.step}` : ''}`);
      expect(types.indexOf('SignalReceived')).toBeLessThan(types.indexOf('StepStarted:approve'));
    });

    it('the same signalId twice delivers once: of two waits of one name only the first completes; a second distinct signal completes the second', async () => {
      const { sagaId } = await startWorkflow({
        name: 'two-waits',
        tasks: [
          { id: 'first', handler: 'wait', dependsOn: [], config: { signal: 'go' } },
          { id: 'second', handler: 'wait', dependsOn: [], config: { signal: 'go' } },
        ],
      });
      await untilStep(sagaId, 'second', 'RUNNING');
      await untilStep(sagaId, 'first', 'RUNNING');
      const one = await sendSignal(sagaId, 'go', { signalId: 'go-1', payload: { n: 1 } });
      expect(one.body).toMatchObject({ accepted: true });
      const dup = await sendSignal(sagaId, 'go', { signalId: 'go-1', payload: { n: 1 } });
      expect(dup.status).toBe(202);
      expect(dup.body).toEqual({ sagaId, name: 'go', signalId: 'go-1', accepted: false });
      await waitFor(async () => (await view(sagaId)).steps.some((s) => s.status === 'SUCCEEDED'));
      await delay(500);
      const afterDuplicate = await view(sagaId);
      expect(afterDuplicate.status).toBe('RUNNING');
      expect(afterDuplicate.steps.map((s) => s.status).sort()).toEqual(['RUNNING', 'SUCCEEDED']);
      expect(step(afterDuplicate, 'first')).toMatchObject({ status: 'SUCCEEDED', output: { n: 1 } });
      expect((await events(sagaId)).filter((e) => e.type === 'SignalReceived')).toHaveLength(1);

      const two = await sendSignal(sagaId, 'go', { signalId: 'go-2', payload: { n: 2 } });
      expect(two.body).toMatchObject({ accepted: true });
      const done = await settle(sagaId, 'COMPLETED');
      expect(step(done, 'first').output).toEqual({ n: 1 });
      expect(step(done, 'second').output).toEqual({ n: 2 });
    });

    it('the same signalId sent concurrently is still one delivery', async () => {
      const { sagaId } = await startWorkflow({ name: 'concurrent-dup', tasks: [{ id: 'w', handler: 'wait', dependsOn: [], config: { signal: 'go' } }, { id: 'w2', handler: 'wait', dependsOn: [], config: { signal: 'go' } }] });
      await untilStep(sagaId, 'w2', 'RUNNING');
      const answers = await Promise.all([1, 2, 3].map(() => sendSignal(sagaId, 'go', { signalId: 'same', payload: { n: 1 } })));
      expect(answers.map((r) => ({ status: r.status, body: r.body }))).toEqual([1, 2, 3].map(() => ({ status: 202, body: expect.anything() })));
      await waitFor(async () => (await view(sagaId)).steps.some((s) => s.status === 'SUCCEEDED'));
      await delay(500);
      expect((await view(sagaId)).steps.map((s) => s.status).sort()).toEqual(['RUNNING', 'SUCCEEDED']);
      expect((await events(sagaId)).filter((e) => e.type === 'SignalReceived')).toHaveLength(1);
      expect((await operate(sagaId, 'cancel', { reason: 'done testing' })).status).toBe(202);
      await settle(sagaId, 'COMPENSATED');
    });

    it('a wait that times out (config.timeoutMs 300, 2 attempts) follows the retry policy, then the saga compensates', async () => {
      const { sagaId } = await startWorkflow({
        name: 'wait-timeout',
        tasks: [
          { id: 'prepare', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
          { id: 'approve', handler: 'wait', dependsOn: ['prepare'], config: { signal: 'never', timeoutMs: 300 }, retry: { maxAttempts: 2, backoffMs: 10 } },
        ],
      });
      const done = await settle(sagaId, 'COMPENSATED', 15_000);
      expect(statuses(done)).toEqual({ prepare: 'COMPENSATED', approve: 'FAILED' });
      expect(step(done, 'approve')).toMatchObject({ attempts: 2, errorCode: 'TIMEOUT' });
      const all = await events(sagaId);
      const mine = (type: string) => all.filter((e) => e.type === type && e.data.step === 'approve');
      expect(mine('StepStarted').map((e) => e.data.attempt)).toEqual([1, 2]);
      expect(mine('StepFailed').map((e) => [e.data.attempt, e.data.code, e.data.final])).toEqual([
        [1, 'TIMEOUT', false],
        [2, 'TIMEOUT', true],
      ]);
      expect(mine('StepRetryScheduled')).toHaveLength(1);
      // Each attempt waited its 300 ms.
      for (const attempt of [1, 2]) {
        const started = Date.parse(mine('StepStarted').find((e) => e.data.attempt === attempt)!.data.at as string);
        const failed = Date.parse(mine('StepFailed').find((e) => e.data.attempt === attempt)!.data.at as string);
        expect(failed - started).toBeGreaterThanOrEqual(300);
      }
      expect(all.find((e) => e.type === 'CompensationStarted')!.data).toMatchObject({ failedStep: 'approve' });
    });

    // A `wait` step's signal and timeout come from its plan: the corrected config rewrites them.
    it('resume with a corrected wait config (another signal, a longer timeout) waits for that signal', async () => {
      const { sagaId } = await startWorkflow({
        name: 'wait-override',
        onFailure: 'suspend',
        tasks: [{ id: 'approve', handler: 'wait', dependsOn: [], config: { signal: 'old', timeoutMs: 300 }, retry: { maxAttempts: 1, backoffMs: 10 } }],
      });
      await settle(sagaId, 'SUSPENDED', 10_000);
      expect((await operate(sagaId, 'resume', { reason: 'new signal', config: { signal: 'new', timeoutMs: 60_000 } })).status).toBe(202);
      expect(step(await view(sagaId), 'approve').waitingFor).toEqual({ signal: 'new' });
      await delay(800); // longer than the old timeout
      expect(step(await view(sagaId), 'approve').status).toBe('RUNNING');
      expect((await sendSignal(sagaId, 'new', { payload: { ok: 1 } })).status).toBe(202);
      expect(step(await settle(sagaId, 'COMPLETED', 5000), 'approve').output).toEqual({ ok: 1 });
    });

    it('signals: unknown saga 404, another tenant’s 404, bad name 400, terminal saga 422 (a repeated signalId stays 202)', async () => {
      expect((await sendSignal(randomUUID(), 'approved', { payload: {} })).status).toBe(404);
      expect((await sendSignal(completedSagaId, 'approved', { payload: {} }, other.client)).status).toBe(404);
      expect((await ctx.http().post(`/v1/sagas/${completedSagaId}/signals/approved`).send({})).status).toBe(401);
      for (const name of ['bad%20name', 'x'.repeat(101), 'a%24b', 'na%2Fme']) {
        const res = await sendSignal(completedSagaId, name, {});
        expect({ name, status: res.status }).toEqual({ name, status: expect.any(Number) });
        // `/` encoded may not even route: 400 or 404, never 2xx/5xx; the others are 400.
        if (name === 'na%2Fme') expect([400, 404]).toContain(res.status);
        else {
          expect({ name, status: res.status }).toEqual({ name, status: 400 });
          expect(res.headers['content-type']).toMatch(PROBLEM);
        }
      }
      for (const body of [{ signalId: '' }, { signalId: 5 }, { extra: 1 }]) {
        const res = await sendSignal(completedSagaId, 'approved', body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
      }
      const terminal = await sendSignal(completedSagaId, 'approved', { signalId: 'late-one', payload: { by: 'eve' } });
      expect(terminal.status).toBe(422);
      expect(terminal.headers['content-type']).toMatch(PROBLEM);
      expect(terminal.body).toMatchObject({ code: 'SAGA_TERMINAL' });
      const repeated = await sendSignal(completedSagaId, 'approved', { signalId: 'approval-1', payload: { by: 'alice', level: 2 } });
      expect(repeated.status).toBe(202);
      expect(repeated.body).toMatchObject({ accepted: false });
      // A valid name of every allowed character class passes validation (then: terminal, 422).
      expect((await sendSignal(completedSagaId, 'Ok.name-1_x', { signalId: 'other-name' })).status).toBe(422);
      // An operator key may signal too (client < operator).
      expect((await sendSignal(completedSagaId, 'approved', { signalId: 'approval-1' }, t.operator)).status).toBe(202);
    });
  });

  describe('startAt', () => {
    const twoSteps = (name: string, startAt: string) => ({
      name,
      startAt,
      tasks: [
        { id: 'a', handler: 'echo', dependsOn: [], config: { x: 1 }, compensation: { handler: 'noop' } },
        { id: 'b', handler: 'noop', dependsOn: ['a'] },
      ],
    });

    it('3 s ahead: SCHEDULED, then it runs (COMPLETED; its first step started at or after startAt)', async () => {
      const startAt = new Date(Date.now() + 3000).toISOString();
      const started = await startWorkflow(twoSteps('scheduled', startAt));
      expect(started.status).toBe('SCHEDULED');
      const sagaId = started.sagaId;
      const scheduled = await view(sagaId);
      expect(scheduled.status).toBe('SCHEDULED');
      expect(statuses(scheduled)).toEqual({ a: 'PENDING', b: 'PENDING' });
      expect(scheduled.progress).toEqual({ completedSteps: 0, totalSteps: 2, percent: 0 });
      const types = (await events(sagaId)).map((e) => e.type);
      expect(types).toEqual(['SagaStarted', 'SagaScheduled']);
      await delay(1500);
      expect((await view(sagaId)).status).toBe('SCHEDULED');

      const done = await settle(sagaId, 'COMPLETED', 15_000);
      expect(Date.parse(step(done, 'a').startedAt!)).toBeGreaterThanOrEqual(Date.parse(startAt));
      // Not much later either: the worker wakes up at startAt.
      expect(Date.parse(step(done, 'a').startedAt!)).toBeLessThan(Date.parse(startAt) + 2000);
      const all = await events(sagaId);
      expect(all.find((e) => e.type === 'SagaScheduled')!.data).toMatchObject({ startAt });
    });

    it('cancelled while scheduled: nothing runs (COMPENSATED, steps PENDING, rolled back)', async () => {
      const startAt = new Date(Date.now() + 60_000).toISOString();
      const { sagaId, status } = await startWorkflow(twoSteps('scheduled-cancel', startAt));
      expect(status).toBe('SCHEDULED');
      await waitFor(async () => (await listed('SCHEDULED')).includes(sagaId), { what: 'the saga listed as SCHEDULED' });
      const res = await operate(sagaId, 'cancel', { reason: 'plans changed' });
      expect(res.status).toBe(202);
      const done = await settle(sagaId, 'COMPENSATED', 10_000);
      expect(statuses(done)).toEqual({ a: 'PENDING', b: 'PENDING' });
      const types = (await events(sagaId)).map((e) => e.type);
      expect(types).toEqual(['SagaStarted', 'SagaScheduled', 'SagaCancelRequested', 'CompensationStarted', 'SagaCompensated']);
      await untilPublished(sagaId, 'saga.rolled_back');
    });

    it('startAt more than a year ahead or not an ISO time → 400', async () => {
      const far = new Date(Date.now() + 400 * 24 * 3600_000).toISOString();
      for (const startAt of [far, 'tomorrow', 5]) {
        const res = await postSaga(ctx, t.client, 'task-workflow', { ...twoSteps('bad-start', 'x'), startAt });
        expect({ startAt, status: res.status }).toEqual({ startAt, status: 400 });
      }
      const res = await postSaga(ctx, t.client, 'task-workflow', { ...twoSteps('bad-failure', new Date().toISOString()), onFailure: 'retry' });
      expect(res.status).toBe(400);
    });
  });

  describe('cancel interrupts the effect in flight', () => {
    it('during a 20 s delay: the step is FAILED (CANCELLED) and the saga COMPENSATED within ~2.5 s of the 202', async () => {
      const { sagaId } = await startWorkflow({
        name: 'cancel-delay',
        tasks: [
          { id: 'prepare', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
          { id: 'long', handler: 'delay', dependsOn: ['prepare'], config: { ms: 20_000 }, compensation: { handler: 'noop' } },
        ],
      });
      await untilStep(sagaId, 'long', 'RUNNING');
      const res = await operate(sagaId, 'cancel', { reason: 'too slow' });
      expect(res.status).toBe(202);
      const accepted = Date.now();
      const saga = await settle(sagaId, 'COMPENSATED', 20_000);
      const elapsed = Date.now() - accepted;
      expect(step(saga, 'long')).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
      expect(step(saga, 'prepare').status).toBe('COMPENSATED');
      expect(elapsed).toBeLessThan(CANCEL_BOUND_MS);
      // The recorded times say the same: from the cancel to the interrupted step and the end.
      const all = await events(sagaId);
      const at = (pred: (e: StoredEvent) => boolean) => Date.parse(all.find(pred)!.data.at as string);
      const cancelAt = at((e) => e.type === 'SagaCancelRequested');
      const failedAt = at((e) => e.type === 'StepFailed' && e.data.step === 'long');
      const compensatedAt = at((e) => e.type === 'SagaCompensated');
      expect(failedAt - cancelAt).toBeLessThan(2000);
      expect(compensatedAt - cancelAt).toBeLessThan(CANCEL_BOUND_MS);
      expect(all.find((e) => e.type === 'StepFailed' && e.data.step === 'long')!.data).toMatchObject({ code: 'CANCELLED', final: true });
    });

    it('during a wait: it ends at once, FAILED (CANCELLED), in the cancel’s own commit', async () => {
      const { sagaId } = await startWorkflow({
        name: 'cancel-wait',
        tasks: [
          { id: 'prepare', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
          { id: 'approve', handler: 'wait', dependsOn: ['prepare'], config: { signal: 'approved' } },
        ],
      });
      await untilStep(sagaId, 'approve', 'RUNNING');
      const res = await operate(sagaId, 'cancel', { reason: 'nobody approves' });
      expect(res.status).toBe(202);
      expect(step(res.body, 'approve')).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
      const accepted = Date.now();
      const saga = await settle(sagaId, 'COMPENSATED', 10_000);
      expect(Date.now() - accepted).toBeLessThan(CANCEL_BOUND_MS);
      expect(step(saga, 'prepare').status).toBe('COMPENSATED');
      const all = await events(sagaId);
      const cancel = all.find((e) => e.type === 'SagaCancelRequested')!;
      const failed = all.find((e) => e.type === 'StepFailed' && e.data.step === 'approve')!;
      expect(failed.data).toMatchObject({ code: 'CANCELLED', final: true });
      // Committed with the cancel: right after its CompensationStarted, before the 202 answered.
      const compensationStarted = all.find((e) => e.type === 'CompensationStarted')!;
      expect(compensationStarted.version).toBe(cancel.version + 1);
      expect(failed.version).toBe(compensationStarted.version + 1);
    });

    describe('during an http call to a server that never answers', () => {
      let server: Server;
      let url: string;
      const requests: { path?: string; closedAt?: number }[] = [];
      const sockets = new Set<Socket>();

      beforeAll(async () => {
        server = createServer((req) => {
          // Never answers: only notes when the client closes the connection.
          const seen: { path?: string; closedAt?: number } = { path: req.url };
          requests.push(seen);
          req.socket.on('close', () => (seen.closedAt = Date.now()));
          req.resume();
        });
        server.on('connection', (s) => {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      afterAll(async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server?.close(() => resolve()));
      });

      it('compensation within 2.5 s and the server sees its connection closed', async () => {
        const { sagaId } = await startWorkflow({
          name: 'cancel-http',
          tasks: [
            { id: 'prepare', handler: 'noop', dependsOn: [], compensation: { handler: 'noop' } },
            { id: 'call', handler: 'http', dependsOn: ['prepare'], config: { url: `${url}/slow`, method: 'POST', body: { n: 1 } } },
          ],
        });
        await untilStep(sagaId, 'call', 'RUNNING');
        await waitFor(() => requests.length === 1, { what: 'the request at the slow server' });
        expect(requests[0].path).toBe('/slow');
        expect(requests[0].closedAt).toBeUndefined();

        const res = await operate(sagaId, 'cancel', { reason: 'vendor hangs' });
        expect(res.status).toBe(202);
        const accepted = Date.now();
        const saga = await settle(sagaId, 'COMPENSATED', 20_000);
        expect(Date.now() - accepted).toBeLessThan(CANCEL_BOUND_MS);
        expect(step(saga, 'call')).toMatchObject({ status: 'FAILED', errorCode: 'CANCELLED' });
        expect(step(saga, 'prepare').status).toBe('COMPENSATED');
        const closedAt = await waitFor(() => requests[0].closedAt, { timeoutMs: 5000, what: 'the slow server’s connection closed' });
        expect(closedAt - accepted).toBeLessThan(CANCEL_BOUND_MS);
        // Cancelled, not retried: one request only.
        await delay(300);
        expect(requests).toHaveLength(1);
      });
    });
  });

  describe('progress', () => {
    it('goes 0 → 100 as steps complete, never backwards', async () => {
      const n = 5;
      const tasks = Array.from({ length: n }, (_, i) => ({ id: `d${i}`, handler: 'delay', dependsOn: i ? [`d${i - 1}`] : [], config: { ms: 400 } }));
      const { sagaId } = await startWorkflow({ name: 'progress', tasks });
      const samples: { percent: number; completedSteps: number; totalSteps: number; status: string }[] = [];
      await waitFor(
        async () => {
          const saga = await view(sagaId);
          samples.push({ ...saga.progress, status: saga.status });
          return saga.status === 'COMPLETED';
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      const percents = samples.map((s) => s.percent);
      expect(percents[0]).toBe(0);
      expect(percents[percents.length - 1]).toBe(100);
      for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]);
      // Steps of 20 %, and most of them seen on the way.
      for (const s of samples) {
        expect(s.totalSteps).toBe(n);
        expect(s.percent).toBe((s.completedSteps / n) * 100);
      }
      expect(new Set(percents).size).toBeGreaterThanOrEqual(4);
      expect(samples[samples.length - 1]).toMatchObject({ completedSteps: n, status: 'COMPLETED' });
    });
  });
});
