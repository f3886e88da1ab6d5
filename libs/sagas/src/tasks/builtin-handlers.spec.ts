import { registerBuiltinHandlers } from './builtin-handlers';
import { PermanentTaskError, TaskHandlerContext, TaskHandlerRegistry } from './task-handler';

const registry = registerBuiltinHandlers(new TaskHandlerRegistry());
const run = (handler: string, config: Record<string, unknown>, signal: AbortSignal = new AbortController().signal) => {
  const ctx: TaskHandlerContext = { sagaId: 's', tenantId: 't', taskId: 'x', taskName: 'x', attempt: 1, config, upstream: {}, idempotencyKey: 'k', signal };
  return registry.get(handler)!(ctx);
};
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('delay handler', () => {
  it('waits config.ms', async () => {
    await expect(run('delay', { ms: 5 })).resolves.toEqual({ waitedMs: 5 });
  });

  it('ends at once when its signal aborts, with the abort reason, leaving no timer behind', async () => {
    const before = timers();
    const step = new AbortController();
    const waiting = run('delay', { ms: 60_000 }, step.signal);
    expect(timers()).toBe(before + 1);

    const reason = new Error('saga cancelled');
    const abortedAt = Date.now();
    step.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    // Far below the 60 s asked for (bound generous for loaded CI machines).
    expect(Date.now() - abortedAt).toBeLessThan(500);
    expect(timers()).toBe(before);
  });

  it('does not start when the signal is already aborted', async () => {
    const reason = new Error('shutting down');
    const before = timers();
    await expect(run('delay', { ms: 60_000 }, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(timers()).toBe(before);
  });

  it('refuses a delay that is not a usable number, for good', async () => {
    for (const ms of [-1, 'soon', 2 ** 31]) await expect(run('delay', { ms })).rejects.toBeInstanceOf(PermanentTaskError);
  });
});
