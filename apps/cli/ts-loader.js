'use strict';
/*
 * Runs the CLI from its TypeScript sources, so `npx saga` works on a fresh clone after `npm ci`
 * without a build step, and starts fast.
 *
 * Not `-r @swc-node/register`: that loads the whole TypeScript compiler to read tsconfig.json and
 * hooks every `.js` file too, about a second before the first line of output. This hook compiles
 * `.ts` files only, with @swc/core (the compiler @swc-node/register drives), keeps each result in
 * node_modules/.cache/saga-cli keyed by the source's hash, and loads @swc/core only on a cache miss:
 * a warm start costs little more than node itself. `@app/<lib>` resolves as tsconfig.json `paths` say.
 */
const crypto = require('crypto');
const fs = require('fs');
const Module = require('module');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'saga-cli');
const SWC_OPTIONS = {
  swcrc: false,
  configFile: false,
  jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  module: { type: 'commonjs' },
};
// Part of every cache key: a change of options (or of this file's output) never reuses old code.
const SALT = `saga-cli-1:${JSON.stringify(SWC_OPTIONS)}`;

let swc;

function compile(source, filename) {
  swc ??= require('@swc/core');
  return swc.transformSync(source, { ...SWC_OPTIONS, filename }).code;
}

function loadTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(SALT).update('\0').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(CACHE_DIR, `${key.slice(0, 40)}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    code = compile(source, filename);
    try {
      // Written aside then renamed: two CLIs starting at once never read half a file.
      fs.mkdirSync(CACHE_DIR, { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, cached);
    } catch {
      // A read-only checkout still runs, compiling on every start.
    }
  }
  module._compile(code, filename);
}

function register() {
  if (Module._extensions['.ts']) return; // already under a TypeScript hook (e.g. jest, swc-node)
  Module._extensions['.ts'] = loadTs;
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveAppAlias(request, ...rest) {
    const lib = /^@app\/([a-z-]+)$/.exec(request);
    return resolve.call(this, lib ? path.join(ROOT, 'libs', lib[1], 'src') : request, ...rest);
  };
}

module.exports = { register };
