import { ServerResponse } from 'http';

/**
 * Runs `work` with a signal that aborts when the client goes away before its answer is written, so
 * that a long poll of a gone client frees its wait at once. It listens on the response: since
 * Node 16 the request's own 'close' fires as soon as its body has been read, which would end every
 * long poll before it began.
 */
export async function untilClientGone<T>(res: ServerResponse, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  if (!res.socket || res.socket.destroyed) controller.abort();
  try {
    return await work(controller.signal);
  } finally {
    res.off('close', onClose);
  }
}
