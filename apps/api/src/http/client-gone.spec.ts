import { createServer, request, Server } from 'http';
import { AddressInfo } from 'net';
import { untilClientGone } from './client-gone';

/** A server whose handler reads the body, then waits until `waitMs` passes or the signal aborts. */
function server(waitMs: number) {
  let waiting!: () => void;
  let outcome!: (o: string) => void;
  const started = new Promise<void>((r) => (waiting = r));
  const ended = new Promise<string>((r) => (outcome = r));
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      void untilClientGone(res, (signal) => {
        waiting();
        return new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve('waited'), waitMs);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve('aborted');
          });
        });
      }).then((o) => {
        outcome(o);
        if (!res.destroyed) res.end(o);
      });
    });
  });
  const listening = new Promise<Server>((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
  return { listening, started, ended };
}

const post = (s: Server) => request({ host: '127.0.0.1', port: (s.address() as AddressInfo).port, method: 'POST', path: '/', headers: { 'content-type': 'application/json' } });

describe('untilClientGone', () => {
  let s: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve())));

  it('does not abort a request whose body was read while the client still waits', async () => {
    const srv = server(300);
    s = await srv.listening;
    const body = await new Promise<string>((resolve, reject) => {
      const req = post(s!);
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end('{"instanceId":"i-1"}');
    });
    expect(body).toBe('waited');
    expect(await srv.ended).toBe('waited');
  });

  it('aborts the wait as soon as the client disconnects', async () => {
    const srv = server(10_000);
    s = await srv.listening;
    const req = post(s);
    req.on('error', () => undefined);
    req.end('{"instanceId":"i-1"}');
    await srv.started;
    const gone = Date.now();
    req.destroy();
    expect(await srv.ended).toBe('aborted');
    expect(Date.now() - gone).toBeLessThan(2000);
  });
});
