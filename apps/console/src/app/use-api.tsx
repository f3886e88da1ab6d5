import { DependencyList, useCallback, useEffect, useRef, useState } from 'react';
import { ApiClient, ApiError } from '../api/client';
import { useSession } from './session';

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  /** When the data last arrived (for "updated 3 s ago"). */
  updatedAt?: number;
  reload(): void;
}

/**
 * Loads with the session's client; with `pollMs` loads again that long after each answer (the
 * console's live refresh). Keeps the last data while reloading (no flicker); an unknown key
 * (401: revoked meanwhile) signs the person out.
 */
export function useApi<T>(
  load: (api: ApiClient, signal: AbortSignal) => Promise<T>,
  deps: DependencyList,
  options: { pollMs?: number; enabled?: boolean } = {},
): Loaded<T> {
  const session = useSession();
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean; updatedAt?: number }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const enabled = options.enabled !== false;

  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const run = async () => {
      setState((s) => ({ ...s, loading: true }));
      try {
        const data = await loadRef.current(session.api, controller.signal);
        if (stopped) return;
        setState({ data, loading: false, updatedAt: Date.now() });
      } catch (error) {
        if (stopped || controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) {
          session.signOut('The API no longer accepts this key (401). Enter a valid key.');
          return;
        }
        setState((s) => ({ ...s, error, loading: false }));
      }
      if (!stopped && options.pollMs) timer = setTimeout(run, options.pollMs);
    };
    void run();
    return () => {
      stopped = true;
      controller.abort();
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, session.api, tick, options.pollMs, enabled]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
