import { execFileSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { Browser, chromium, Page } from 'playwright-core';

/** Headless Chromium for the console tests (playwright-core brings no browser: Debian's `chromium`). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ROOT = join(__dirname, '..', '..');
export const CONSOLE_DIST = join(ROOT, 'apps', 'console', 'dist');
export const SCREENSHOTS_DIR = join(ROOT, 'docs', 'screenshots');

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Builds apps/console when its build is missing or older than its sources (a no-op otherwise). */
export function ensureConsoleBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'apps', 'console', 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
}

/** Gzip size of the console's JavaScript (every chunk, the lazy ones too), in bytes. */
export function consoleJavascriptGzipBytes(): number {
  const assets = join(CONSOLE_DIST, 'assets');
  return readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .reduce((sum, f) => sum + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
}

/**
 * What the page said went wrong: console errors (including the browser's own "Failed to load
 * resource" lines for refused requests) and uncaught exceptions. `allow` lists the ones a test
 * expects, matched on "text @ url".
 */
export function watchConsole(page: Page, allow: RegExp[] = []): { errors: string[]; allowed: string[] } {
  const out = { errors: [] as string[], allowed: [] as string[] };
  const record = (line: string) => (allow.some((re) => re.test(line)) ? out.allowed : out.errors).push(line);
  page.on('console', (msg) => {
    if (msg.type() === 'error') record(`${msg.text()} @ ${msg.location().url}`);
  });
  page.on('pageerror', (err) => record(`pageerror: ${err.message}`));
  return out;
}

/**
 * Counts the person's clicks in the page (trusted click events, as Playwright's clicks are),
 * kept in sessionStorage so that they survive in-app navigation. `reset` starts a new count.
 */
export async function installClickCounter(page: Page): Promise<{ count(): Promise<number>; reset(): Promise<void> }> {
  // Page-side code as text: it runs in the browser, not under this file's (DOM-less) types.
  await page.addInitScript(`document.addEventListener('click', (e) => {
    if (!e.isTrusted) return;
    sessionStorage.setItem('test.clicks', String(Number(sessionStorage.getItem('test.clicks') ?? '0') + 1));
  }, true);`);
  return {
    count: async () => Number(await page.evaluate(`sessionStorage.getItem('test.clicks') ?? '0'`)),
    reset: async () => void (await page.evaluate(`sessionStorage.setItem('test.clicks', '0')`)),
  };
}

/** A full-page screenshot in `dir`, also copied to docs/screenshots (the README shows them). */
export async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  const file = join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.CONSOLE_SCREENSHOTS !== 'off') {
    mkdirSync(SCREENSHOTS_DIR, { recursive: true });
    copyFileSync(file, join(SCREENSHOTS_DIR, `${name}.png`));
  }
  return file;
}
