import { Request, Response, NextFunction } from 'express';
import { problem } from './problem';

/** A request with a body must send JSON (415 otherwise), so nothing is silently read as `{}`. */
export function requireJsonBody(req: Request, res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && ['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is(['application/json', 'application/*+json'])) {
    res.status(415).type('application/problem+json').send(JSON.stringify(problem(415, 'request body must be application/json')));
    return;
  }
  next();
}
