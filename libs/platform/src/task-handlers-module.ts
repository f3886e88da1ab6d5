import { isAbsolute, resolve } from 'path';
import { registerBuiltinHandlers, TaskHandler, TaskHandlerRegistry } from '@app/sagas';
import { ConfigError } from './config/config-error';

/** Handler names a deployment may register: not the built-ins' and not `agent:` (agents' queue). */
const HANDLER_NAME = /^[a-z][a-z0-9._-]{0,99}$/;

/**
 * In-process task handlers a deployment adds without editing platform code: `TASK_HANDLERS_MODULE`
 * names a module (JavaScript, or TypeScript under `npm start`) that exports either
 * `registerHandlers(registry)` or `handlers: { name: async (ctx) => output }`. Loaded once at start;
 * a module that cannot be loaded, or a handler name that is taken or malformed, stops the process
 * with one line naming it. See examples/handlers/handlers.ts.
 */
export function registerDeploymentHandlers(registry: TaskHandlerRegistry, modulePath: string | undefined): TaskHandlerRegistry {
  if (!modulePath) return registry;
  const path = isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
  let mod: { registerHandlers?: (r: TaskHandlerRegistry) => void; handlers?: Record<string, TaskHandler>; default?: unknown };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(path);
  } catch (err) {
    throw new ConfigError(`invalid configuration: TASK_HANDLERS_MODULE ${path} cannot be loaded (${(err as Error).message.split('\n')[0]})`);
  }
  const builtins = new Set(registry.names());
  const add = (name: string, handler: unknown) => {
    if (!HANDLER_NAME.test(name)) throw new ConfigError(`invalid configuration: TASK_HANDLERS_MODULE handler name "${name}" must match ${HANDLER_NAME.source}`);
    if (builtins.has(name)) throw new ConfigError(`invalid configuration: TASK_HANDLERS_MODULE handler "${name}" would replace a built-in handler`);
    if (typeof handler !== 'function') throw new ConfigError(`invalid configuration: TASK_HANDLERS_MODULE handler "${name}" is not a function`);
    registry.register(name, handler as TaskHandler);
  };
  if (typeof mod.registerHandlers === 'function') {
    const own = new TaskHandlerRegistry();
    mod.registerHandlers(own);
    for (const name of own.names()) add(name, own.get(name));
  } else if (mod.handlers && typeof mod.handlers === 'object') {
    for (const [name, handler] of Object.entries(mod.handlers)) add(name, handler);
  } else {
    throw new ConfigError(`invalid configuration: TASK_HANDLERS_MODULE ${path} exports neither registerHandlers(registry) nor handlers`);
  }
  return registry;
}

/** Loads the module once to check it (at start, before anything else runs). */
export function checkDeploymentHandlers(modulePath: string | undefined): void {
  registerDeploymentHandlers(registerBuiltinHandlers(new TaskHandlerRegistry()), modulePath);
}
