import { IncomingMessage, ServerResponse } from 'http';
import { randomUUID } from 'crypto';
import { Options } from 'pino-http';

const CORRELATION_HEADER = 'x-correlation-id';

/**
 * One line per request, without header dumps: method, url, status, response time and the
 * correlation id. Health and metrics scrapes are not logged.
 */
export const requestLogOptions: Options = {
  // One correlation id per request: taken from X-Correlation-Id or made here, echoed back, and
  // written into the metadata of every event the request causes.
  genReqId: (req, res) => {
    const given = req.headers[CORRELATION_HEADER];
    const id = typeof given === 'string' && /^[A-Za-z0-9._:-]{1,100}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Correlation-Id', id);
    return id;
  },
  autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
  serializers: {
    req: (req: { id: unknown; method: string; url: string }) => ({ method: req.method, url: req.url, correlationId: req.id }),
    res: (res: { statusCode: number }) => ({ status: res.statusCode }),
  },
  customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  customSuccessMessage: (req, res, ms) => requestLine(req, res, ms),
  customErrorMessage: (req, res) => requestLine(req, res),
  // pino-http would add a made-up "failed with status code 5xx" error with its own stack; a 500's
  // real cause is logged with its stack by the ProblemFilter.
  customErrorObject: (_req, _res, _err, line: { res: unknown; responseTime: number }) => ({ res: line.res, responseTime: line.responseTime }),
};

function requestLine(req: IncomingMessage, res: ServerResponse, ms?: number): string {
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url;
  return `${req.method} ${url} ${res.statusCode}${ms === undefined ? '' : ` ${ms} ms`}`;
}
