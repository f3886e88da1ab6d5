import { MouseEvent, ReactNode, useEffect, useState } from 'react';
import { Anchor, AnchorProps } from '@mantine/core';

/**
 * A small history router: the console lives under /console and the api answers every
 * /console/* path with index.html, so deep links and reloads work.
 */
export const BASE = '/console';

export interface Location {
  /** The path below /console, starting with '/'. */
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  let path = window.location.pathname;
  if (path.startsWith(BASE)) path = path.slice(BASE.length);
  return { path: path === '' ? '/' : path, query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = `${BASE}${to}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  if (!options.replace) window.scrollTo(0, 0);
  listeners.forEach((l) => l());
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return loc;
}

/** Sets query parameters of the current path (empty values removed), replacing the history entry. */
export function setQuery(loc: Location, changes: Record<string, string | undefined | null>): void {
  const q = new URLSearchParams(loc.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(`${loc.path}${s ? `?${s}` : ''}`, { replace: true });
}

/** An in-app link: a real href (open in a new tab works) that navigates without a reload. */
export function Link(props: AnchorProps & { to: string; children: ReactNode; 'data-testid'?: string; title?: string }) {
  const { to, children, ...rest } = props;
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <Anchor href={`${BASE}${to}`} onClick={onClick} {...rest}>
      {children}
    </Anchor>
  );
}
