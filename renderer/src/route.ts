import { useEffect, useState } from 'react';

export type View = 'case' | 'chain' | 'timeline' | 'sessions' | 'hop' | 'export' | 'gateway';
export interface Route {
  view: View;
  /** The hop view's session (the timeline's: the chain that holds it). */
  session?: string;
  /** The hop view's time (µs), to open at. */
  t?: number;
}

const VIEWS: View[] = ['case', 'chain', 'timeline', 'sessions', 'hop', 'export', 'gateway'];

/** `#/hop/<session>?t=<µs>`: routes live in the hash, so the secret path of the browser mode stays as it is. */
export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [view, session] = path.split('/');
  const t = Number(new URLSearchParams(query).get('t'));
  const v = VIEWS.includes(view as View) ? (view as View) : 'chain';
  return { view: v, ...(session ? { session: decodeURIComponent(session) } : {}), ...(Number.isFinite(t) && t > 0 ? { t } : {}) };
}

export function href(r: Route): string {
  return `#/${r.view}${r.session ? `/${encodeURIComponent(r.session)}` : ''}${r.t ? `?t=${r.t}` : ''}`;
}

export function go(r: Route): void {
  window.location.hash = href(r);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
