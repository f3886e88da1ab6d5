import { createContext, ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { ApiClient } from '../api/client';
import { KeyRole } from '../api/role';

/**
 * The key the person entered and its role, kept for the browser session only (sessionStorage:
 * gone when the tab closes, never in localStorage or a cookie).
 */
const KEY = 'saga-console.key';
const ROLE = 'saga-console.role';
const NOT_ADMIN = 'saga-console.not-admin';

export interface Session {
  api: ApiClient;
  role: KeyRole;
  /** The API refused an admin action (403): hide admin buttons for the rest of the session. */
  notAdmin: boolean;
  markNotAdmin(): void;
  signOut(message?: string): void;
}

export interface StoredSession {
  key: string;
  role: KeyRole;
}

export function loadSession(): StoredSession | undefined {
  const key = sessionStorage.getItem(KEY);
  const role = sessionStorage.getItem(ROLE);
  return key && (role === 'client' || role === 'operator') ? { key, role } : undefined;
}

export function saveSession(s: StoredSession): void {
  sessionStorage.setItem(KEY, s.key);
  sessionStorage.setItem(ROLE, s.role);
  sessionStorage.removeItem(NOT_ADMIN);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
  sessionStorage.removeItem(NOT_ADMIN);
}

const SessionContext = createContext<Session | undefined>(undefined);

export function SessionProvider(props: { stored: StoredSession; onSignOut(message?: string): void; children: ReactNode }) {
  const { stored, onSignOut } = props;
  const [notAdmin, setNotAdmin] = useState(() => sessionStorage.getItem(NOT_ADMIN) === '1');
  const markNotAdmin = useCallback(() => {
    sessionStorage.setItem(NOT_ADMIN, '1');
    setNotAdmin(true);
  }, []);
  const value = useMemo<Session>(
    () => ({ api: new ApiClient(stored.key), role: stored.role, notAdmin, markNotAdmin, signOut: onSignOut }),
    [stored, notAdmin, markNotAdmin, onSignOut],
  );
  return <SessionContext.Provider value={value}>{props.children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export const isOperator = (s: Session) => s.role === 'operator';
