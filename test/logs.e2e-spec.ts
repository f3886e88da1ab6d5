import { LoggerService } from '@nestjs/common';
import { waitFor } from '@app/database';
import { bearer, E2eContext, startE2eApp, TenantKeys } from './support/e2e-app';

jest.setTimeout(120_000);

interface Line {
  level: 'log' | 'warn' | 'error' | 'debug' | 'verbose' | 'fatal';
  context?: string;
  message: unknown;
}

/** Keeps what the app logs through Nest's Logger (in production that logger is pino). */
class CapturingLogger implements LoggerService {
  readonly lines: Line[] = [];
  log = (message: unknown, ...params: unknown[]) => this.keep('log', message, params);
  warn = (message: unknown, ...params: unknown[]) => this.keep('warn', message, params);
  error = (message: unknown, ...params: unknown[]) => this.keep('error', message, params);
  debug = (message: unknown, ...params: unknown[]) => this.keep('debug', message, params);
  verbose = (message: unknown, ...params: unknown[]) => this.keep('verbose', message, params);
  fatal = (message: unknown, ...params: unknown[]) => this.keep('fatal', message, params);

  private keep(level: Line['level'], message: unknown, params: unknown[]): void {
    // Nest's Logger passes its context as the last parameter.
    this.lines.push({ level, message, context: params.length ? String(params[params.length - 1]) : undefined });
  }

  about(sagaId: string): { level: string; fields: Record<string, unknown> }[] {
    return this.lines
      .filter((l) => l.context === 'Sagas' && (l.message as { sagaId?: string })?.sagaId === sagaId)
      .map((l) => ({ level: l.level, fields: l.message as Record<string, unknown> }));
  }
}

/** DESIGN.md "Failure promises at the edges": one log line per saga outcome. */
describe('log lines: saga outcomes and shutdown', () => {
  let ctx: E2eContext;
  let t: TenantKeys;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    ctx = await startE2eApp();
    ctx.app.useLogger(logger);
    // createApp buffers logs until a logger is chosen; the test app is made without one.
    ctx.app.flushLogs();
    t = await ctx.tenant();
  });
  let closed = false;
  afterAll(async () => (closed ? ctx.db.drop() : ctx?.close()));

  const settle = (sagaId: string, status: string) =>
    waitFor(async () => {
      const res = await ctx.http().get(`/v1/sagas/${sagaId}`).set(bearer(t.client));
      return res.body.status === status;
    }, { timeoutMs: 60_000 });
  const start = async (tasks: object[]) => {
    const res = await ctx.http().post('/v1/sagas/task-workflow').set(bearer(t.client)).send({ name: 'logged', tasks });
    expect(res.status).toBe(202);
    return res.body.sagaId as string;
  };
  /** The saga's lines once `count` of them are there (they are written just after the commit). */
  const linesOf = (sagaId: string, count: number) => waitFor(async () => logger.about(sagaId).length >= count && logger.about(sagaId), { timeoutMs: 10_000 });

  it('logs a completed saga once, at info', async () => {
    const sagaId = await start([{ id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 } }]);
    await settle(sagaId, 'COMPLETED');
    expect(await linesOf(sagaId, 1)).toEqual([{ level: 'log', fields: { msg: 'saga completed', sagaId, sagaType: 'task-workflow' } }]);
  });

  it("logs a step's final failure at warn with the error (not its retried attempts), then the compensation at info", async () => {
    const sagaId = await start([
      { id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 }, compensation: { handler: 'noop' } },
      { id: 'b', handler: 'fail', dependsOn: ['a'], config: { message: 'quota gone' }, retry: { maxAttempts: 2, backoffMs: 0 } },
    ]);
    await settle(sagaId, 'COMPENSATED');
    expect(await linesOf(sagaId, 2)).toEqual([
      { level: 'warn', fields: { msg: 'step b failed', sagaId, sagaType: 'task-workflow', step: 'b', error: expect.stringContaining('quota gone') } },
      { level: 'log', fields: { msg: 'saga compensated', sagaId, sagaType: 'task-workflow' } },
    ]);
  });

  it('logs a compensation that failed for good at error, with the saga id and the step', async () => {
    const sagaId = await start([
      { id: 'a', handler: 'echo', dependsOn: [], config: { v: 1 }, compensation: { handler: 'fail', config: { message: 'cannot undo a' } } },
      { id: 'b', handler: 'fail', dependsOn: ['a'], retry: { maxAttempts: 1, backoffMs: 0 } },
    ]);
    await settle(sagaId, 'COMPENSATION_FAILED');
    const lines = await linesOf(sagaId, 2);
    expect(lines).toEqual([
      { level: 'warn', fields: expect.objectContaining({ msg: 'step b failed', step: 'b' }) },
      {
        level: 'error',
        fields: { msg: 'compensation of step a failed', sagaId, sagaType: 'task-workflow', step: 'a', error: expect.stringContaining('cannot undo a') },
      },
    ]);
  });

  it('logs when a shutdown starts, the worker stops, and when the shutdown has finished', async () => {
    await ctx.app.close();
    closed = true;
    const messages = logger.lines
      .filter((l) => l.context === 'Shutdown' || l.context === 'Worker')
      .map((l) => (typeof l.message === 'string' ? l.message : (l.message as { msg: string }).msg));
    expect(messages).toEqual(['shutting down', 'worker stopping: interrupting in-flight steps and releasing leases', 'worker stopped', expect.stringMatching(/^shut down in \d+ ms$/)]);
  });
});
