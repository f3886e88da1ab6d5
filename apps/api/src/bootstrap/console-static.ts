import { existsSync } from 'fs';
import { join, resolve } from 'path';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/**
 * Where the built console is (`npm run build:console` writes apps/console/dist): beside the
 * sources when run from them (npm start, tests), under the working directory in the image.
 */
function consoleDistDir(): string {
  const candidates = [resolve(__dirname, '..', '..', '..', 'console', 'dist'), resolve(process.cwd(), 'apps', 'console', 'dist')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}

/**
 * Serves the web console at /console: its static files without an api key (the console asks for
 * one and sends it to the /v1 routes itself), and index.html for any other /console path so the
 * console's own routes (/console/sagas/{id}) survive a reload. Hashed assets are cached for good,
 * index.html never. Registered before Nest's routes and middleware, which never see these paths.
 */
export function serveConsole(app: NestExpressApplication): void {
  const dir = consoleDistDir();
  const index = join(dir, 'index.html');
  app.useStaticAssets(dir, { prefix: '/console', index: false, redirect: false, dotfiles: 'ignore', immutable: true, maxAge: '365d' });
  app.use('/console', (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // A missing asset is a 404, not the page (a script answered with HTML fails confusingly).
    if (req.path.startsWith('/assets/')) return void res.status(404).type('text/plain').send('Not found\n');
    // Checked per request: a console built while the api runs is served at once.
    if (!existsSync(index)) {
      return void res.status(404).type('text/plain').send('The console is not built: run `npm run build:console` (npm start builds it when missing).\n');
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
}
