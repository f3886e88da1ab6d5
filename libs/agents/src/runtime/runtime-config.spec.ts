import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EXAMPLE_AGENT_TYPE, commandFor, loadRuntimeConfig } from './runtime-config';

describe('loadRuntimeConfig', () => {
  let dir: string;
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'runtime-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('given no file, maps only the example type, to the repository example agent run by this Node', () => {
    const root = join(__dirname, '..', '..', '..', '..');
    const config = loadRuntimeConfig(undefined);
    expect(Object.keys(config.types)).toEqual([EXAMPLE_AGENT_TYPE]);
    const example = commandFor(config, 'example')!;
    expect(example.command).toEqual([process.execPath, '-r', '@swc-node/register', join(root, 'examples', 'agents', 'example-agent.ts')]);
    expect(example.cwd).toBe(root);
  });

  it('given a file, adds its types to the built-in example, and resolves cwd against the file', () => {
    const config = loadRuntimeConfig(file('agents.json', { types: { python: { command: ['python3', 'agent.py'], env: { MODE: 'x' }, cwd: 'py' } } }));
    expect(commandFor(config, 'python')).toEqual({ command: ['python3', 'agent.py'], env: { MODE: 'x' }, cwd: join(dir, 'py') });
    expect(commandFor(config, 'example')).toBeDefined();
    expect(config.source).toBe(join(dir, 'agents.json'));
  });

  it('given a file that maps example itself, the file wins', () => {
    const config = loadRuntimeConfig(file('agents.json', { types: { example: { command: ['my-example'] } } }));
    expect(commandFor(config, 'example')).toEqual({ command: ['my-example'] });
  });

  it('reads the path from AGENT_RUNTIME_CONFIG by default', () => {
    const path = file('agents.json', { types: { go: { command: ['./agent'] } } });
    const before = process.env.AGENT_RUNTIME_CONFIG;
    process.env.AGENT_RUNTIME_CONFIG = path;
    try {
      expect(commandFor(loadRuntimeConfig(), 'go')).toEqual({ command: ['./agent'] });
    } finally {
      if (before === undefined) delete process.env.AGENT_RUNTIME_CONFIG;
      else process.env.AGENT_RUNTIME_CONFIG = before;
    }
  });

  it('names the file and every bad field', () => {
    const path = file('bad.json', { types: { py: { comand: ['x'] }, js: { command: 'node x.js' }, e: { command: [] } } });
    expect(() => loadRuntimeConfig(path)).toThrow(
      `agent runtime config ${path} is invalid: types.py.command: is required; types.py.comand: unknown field; ` +
        'types.js.command: must be an array of strings (argv: executable, then arguments); types.e.command: must name at least the executable',
    );
  });

  it('refuses a file that is not JSON, or that is missing, naming it', () => {
    const broken = file('broken.json', '{"types":');
    expect(() => loadRuntimeConfig(broken)).toThrow(`agent runtime config ${broken} is not valid JSON`);
    expect(() => loadRuntimeConfig(join(dir, 'missing.json'))).toThrow(`agent runtime config ${join(dir, 'missing.json')} cannot be read`);
  });
});

describe('commandFor', () => {
  it('is undefined for a type the deployment did not map (left to the external runtime)', () => {
    const config = loadRuntimeConfig(undefined);
    expect(commandFor(config, 'python')).toBeUndefined();
    expect(commandFor(config, 'toString')).toBeUndefined();
  });
});
