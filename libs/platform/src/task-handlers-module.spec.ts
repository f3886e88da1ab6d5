import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { registerBuiltinHandlers, TaskHandlerRegistry } from '@app/sagas';
import { registerDeploymentHandlers } from './task-handlers-module';

const dir = mkdtempSync(join(tmpdir(), 'handlers-'));
const moduleFile = (name: string, source: string) => {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
};
const registry = () => registerBuiltinHandlers(new TaskHandlerRegistry());

describe('TASK_HANDLERS_MODULE', () => {
  it('adds the handlers a module exports next to the built-ins', async () => {
    const path = moduleFile('handlers.js', 'exports.handlers = { greet: async ({ config }) => ({ hi: config.name }) };');
    const r = registerDeploymentHandlers(registry(), path);
    expect(r.names()).toEqual(expect.arrayContaining(['echo', 'greet']));
    await expect(r.get('greet')!({ config: { name: 'x' } } as never)).resolves.toEqual({ hi: 'x' });
  });

  it('accepts registerHandlers(registry)', () => {
    const path = moduleFile('register.js', 'exports.registerHandlers = (r) => r.register("sum", async () => 1);');
    expect(registerDeploymentHandlers(registry(), path).get('sum')).toBeDefined();
  });

  it('refuses, naming the variable, a module that cannot load, a taken or malformed name, or nothing exported', () => {
    expect(() => registerDeploymentHandlers(registry(), join(dir, 'missing.js'))).toThrow(/^invalid configuration: TASK_HANDLERS_MODULE .*missing\.js cannot be loaded/);
    expect(() => registerDeploymentHandlers(registry(), moduleFile('taken.js', 'exports.handlers = { echo: async () => 1 };'))).toThrow(
      'invalid configuration: TASK_HANDLERS_MODULE handler "echo" would replace a built-in handler',
    );
    expect(() => registerDeploymentHandlers(registry(), moduleFile('agent.js', 'exports.handlers = { "agent:x": async () => 1 };'))).toThrow(/handler name "agent:x" must match/);
    expect(() => registerDeploymentHandlers(registry(), moduleFile('empty.js', 'exports.other = 1;'))).toThrow(/exports neither registerHandlers\(registry\) nor handlers/);
  });

  it('changes nothing when unset', () => {
    expect(registerDeploymentHandlers(registry(), undefined).names()).toEqual(registry().names());
  });
});
