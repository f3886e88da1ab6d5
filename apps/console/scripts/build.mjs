#!/usr/bin/env node
/**
 * Builds the console (apps/console/dist, served by the api at /console).
 *
 *   node apps/console/scripts/build.mjs              build now
 *   node apps/console/scripts/build.mjs --if-stale   build only when dist is missing or older than
 *                                                    a source (npm start and the browser test use
 *                                                    this, so an up-to-date build costs ~10 ms)
 *
 * Prints the gzip size of the JavaScript and fails when it is over the 500 KB budget.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const consoleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distDir = join(consoleDir, 'dist');
const BUDGET_BYTES = 500 * 1024;

function newestSource(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry.endsWith('.spec.ts')) continue;
    newest = Math.max(newest, newestSource(join(path, entry)));
  }
  return newest;
}

export function isStale() {
  const built = join(distDir, 'index.html');
  if (!existsSync(built)) return true;
  const sources = Math.max(
    newestSource(join(consoleDir, 'src')),
    newestSource(join(consoleDir, 'index.html')),
    newestSource(join(consoleDir, 'vite.config.mts')),
  );
  return sources > statSync(built).mtimeMs;
}

/** Gzip size of every JavaScript file of the build, in bytes. */
export function javascriptGzipBytes() {
  const assets = join(distDir, 'assets');
  return readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .reduce((sum, f) => sum + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
}

async function main() {
  if (process.argv.includes('--if-stale') && !isStale()) return;
  const started = Date.now();
  console.log('[console] building apps/console (vite)…');
  // Always the production build of React and friends, also when started under Jest (NODE_ENV=test),
  // which Vite would otherwise pass on to the bundle (development React: twice the size).
  process.env.NODE_ENV = 'production';
  const { build } = await import('vite');
  // Built aside, then swapped in: a running api (or a parallel test run) never serves half a build.
  // (Under node_modules/.cache: ignored by git, and left-overs of a killed build go with node_modules.)
  const staging = join(consoleDir, '..', '..', 'node_modules', '.cache', `saga-console-build-${process.pid}`);
  try {
    await build({ configFile: join(consoleDir, 'vite.config.mts'), mode: 'production', build: { outDir: staging } });
    rmSync(distDir, { recursive: true, force: true });
    renameSync(staging, distDir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const gz = javascriptGzipBytes();
  console.log(`[console] built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${(gz / 1024).toFixed(1)} KB of JavaScript gzipped (budget ${BUDGET_BYTES / 1024} KB)`);
  if (gz > BUDGET_BYTES) {
    console.error(`[console] the JavaScript is over its budget: ${(gz / 1024).toFixed(1)} KB > ${BUDGET_BYTES / 1024} KB gzipped`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`[console] build failed: ${err?.message ?? err}`);
    process.exit(1);
  });
}
