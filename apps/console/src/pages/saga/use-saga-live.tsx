import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, Schemas } from '../../api/client';
import { SseParser } from '../../api/sse-parser';
import { useSession } from '../../app/session';

export type SagaEvent = Schemas['SagaEventDto'];

/**
 * - `connecting`: reading the history or opening the stream
 * - `live`: the stream is open; each transition arrives as it commits
 * - `waiting`: the saga stopped in COMPENSATION_FAILED (the stream ended): nothing happens until an
 *   operator acts, so the stream is reopened after an action here and every few seconds (another
 *   operator, the CLI); the API answers 204 while nothing changed
 * - `ended`: the saga finished (COMPLETED or COMPENSATED)
 * - `error`: the stream failed; it is retried with a backoff
 */
export type LiveState = 'connecting' | 'live' | 'waiting' | 'ended' | 'error';

const FINAL = new Set(['SagaCompleted', 'SagaCompensated']);
const WAITING_RECHECK_MS = 5000;

/**
 * The saga's own events: the history from GET /v1/sagas/{id}/events, then GET /v1/sagas/{id}/live
 * (text/event-stream) from the last version seen. EventSource cannot send the Authorization
 * header, so the stream is read with fetch and parsed here, resuming with Last-Event-ID.
 */
export function useSagaLive(sagaId: string): { events: SagaEvent[]; state: LiveState; error?: unknown; kick(): void } {
  const { api, signOut } = useSession();
  const [events, setEvents] = useState<SagaEvent[]>([]);
  const [state, setState] = useState<LiveState>('connecting');
  const [error, setError] = useState<unknown>();
  const kickRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let lastVersion = -1;
    let lastType: string | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let streaming = false;
    let failures = 0;

    const add = (batch: SagaEvent[]) => {
      const fresh = batch.filter((e) => e.version > lastVersion).sort((a, b) => a.version - b.version);
      if (!fresh.length) return;
      lastVersion = fresh[fresh.length - 1].version;
      lastType = fresh[fresh.length - 1].type;
      setEvents((prev) => [...prev.filter((e) => e.version < fresh[0].version), ...fresh]);
    };
    const later = (ms: number) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void connect(), ms);
    };
    const settle = () => {
      if (lastType && FINAL.has(lastType)) setState('ended');
      else if (lastType === 'SagaCompensationFailed') {
        setState('waiting');
        later(WAITING_RECHECK_MS);
      } else later(500); // closed early (a restart of the api): resume at once
    };

    const connect = async (): Promise<void> => {
      if (signal.aborted || streaming) return;
      streaming = true;
      try {
        const headers: Record<string, string> = { Authorization: `Bearer ${api.key}`, Accept: 'text/event-stream' };
        if (lastVersion >= 0) headers['Last-Event-ID'] = String(lastVersion);
        const res = await fetch(api.url('/v1/sagas/{sagaId}/live', { sagaId }), { headers, signal, cache: 'no-store' });
        if (res.status === 401) return signOut('The API no longer accepts this key (401). Enter a valid key.');
        if (res.status === 204) return settle();
        if (!res.ok || !res.body) {
          const text = await res.text();
          throw new Error(`live stream: HTTP ${res.status} ${text.slice(0, 200)}`);
        }
        setState('live');
        setError(undefined);
        failures = 0;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const batch: SagaEvent[] = [];
          for (const m of parser.push(value)) {
            try {
              batch.push(JSON.parse(m.data) as SagaEvent);
            } catch {
              // not an event frame: ignore
            }
          }
          add(batch);
        }
        settle();
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        setError(err);
        setState('error');
        later(Math.min(10_000, 500 * 2 ** failures));
      } finally {
        streaming = false;
      }
    };

    kickRef.current = () => {
      if (streaming || signal.aborted) return;
      if (timer) clearTimeout(timer);
      void connect();
    };

    (async () => {
      try {
        const history = await api.get('/v1/sagas/{sagaId}/events', { params: { sagaId }, signal });
        add(history.events);
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return signOut('The API no longer accepts this key (401).');
        setError(err);
        setState('error');
        if (err instanceof ApiError && err.status === 404) return; // no such saga: nothing to follow
      }
      await connect();
    })();

    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
      kickRef.current = () => undefined;
    };
  }, [api, sagaId, signOut]);

  const kick = useCallback(() => kickRef.current(), []);
  return { events, state, error, kick };
}
