import { useCallback, useLayoutEffect, useMemo, useState } from 'react';
import type { Exchange, HopDetail, Screen } from '../../../common/api/index.js';
import { api } from '../api.js';
import { CountBadges, IntegrityBadge } from '../components/Badges.js';
import { Exchanges } from '../components/Exchanges.js';
import { TerminalPlayer, type SeekRequest } from '../components/TerminalPlayer.js';
import { Timeline } from '../components/Timeline.js';
import { dateTime, duration, shortId } from '../format.js';
import { href } from '../route.js';

/** One hop: what it issued beside what came back, on a timeline, with its terminal when it had one. */
export function HopView({ session, at, protocol }: { session: string; at?: number; protocol?: string }) {
  const [hop, setHop] = useState<HopDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cursor, setCursor] = useState(0);
  const [seek, setSeek] = useState<SeekRequest | null>(null);
  const [follow, setFollow] = useState(true);

  const [prefetch, setPrefetch] = useState<{ t: number; screen: Promise<Screen | null> } | undefined>(undefined);
  // A layout effect: the requests leave before the first paint rather than a frame after it.
  useLayoutEffect(() => {
    const opened = performance.now();
    const asked = api.hop(session);
    // An SSH hop opened at a time: its screen is asked for right after the hop, not once the hop has rendered.
    setPrefetch(at && protocol === 'ssh' ? { t: at, screen: api.screenAt(session, at).catch((): Screen | null => null) } : undefined);
    asked.then((h) => {
      setHop(h);
      const t0 = at ?? h.session.startMicros ?? 0;
      setCursor(t0);
      if (at) setSeek({ t: at, n: 1 });
      requestAnimationFrame(() => document.body.setAttribute('data-hop-opened-ms', String(Math.round(performance.now() - opened))));
    }, (err: Error) => setError(err.message));
  }, [session, at, protocol]);

  const seekTo = useCallback((t: number) => {
    setCursor(t);
    setFollow(true);
    setSeek((s) => ({ t, n: (s?.n ?? 0) + 1 }));
  }, []);
  // The row at the cursor: the last exchange at or before it (they are in time order), found by bisection.
  const current = useMemo(() => {
    const xs = hop?.exchanges ?? [];
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]!.t <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? xs[lo - 1]!.seq : -1;
  }, [hop, cursor]);
  const commands = useMemo(() => hop?.markers.filter((m) => m.kind === 'command') ?? [], [hop]);
  const pick = useCallback((x: Exchange) => seekTo(x.t), [seekTo]);
  const unfollow = useCallback(() => setFollow(false), []);

  if (error) return <p className="error-banner">{error}</p>;
  if (!hop) return <p className="muted">Opening {session}…</p>;
  const s = hop.session;
  const start = s.startMicros ?? 0;
  // Markers after the end (a child that outlived its parent) sit at the right edge.
  const end = Math.max(s.endMicros ?? Math.max(start, ...hop.markers.map((m) => m.t)), start + 1);
  return (
    <div className="hop-view" data-testid="hop-view" data-session={s.id}>
      <div className="hop-header">
        <h2><span className={`proto proto-${s.protocol}`}>{s.protocol}</span> {s.identity ?? '?'} → {s.target ?? '?'}</h2>
        <div className="hop-facts">
          <span className="mono" title={s.id}>{s.id}</span>
          <span>{dateTime(s.startMicros)} UTC · {s.endMicros && s.startMicros ? duration(s.endMicros - s.startMicros) : 'no end'}</span>
          {hop.link && (
            <span>via <b className={hop.link.inferred ? 'inferred' : 'proven'}>{hop.link.kind}{hop.link.inferred ? ' (inferred)' : ' (proven)'}</b> from{' '}
              {hop.link.parentMissing ? <span className="mono">{shortId(hop.link.from)} (not in case)</span>
                : <a href={href({ view: 'hop', session: hop.link.from })} data-testid="parent-link">{shortId(hop.link.from)}</a>}</span>
          )}
          <IntegrityBadge integrity={s.integrity} sealed={s.sealed} />
          <CountBadges counts={s.counts} revoked={s.revoked} />
        </div>
        {hop.file && <div className="muted small mono" title={hop.file.path}>recording sha256 {hop.file.sha256}</div>}
        {hop.children.length > 0 && (
          <div className="children">child hops: {hop.children.map((c) => (
            <a key={c.id} href={href({ view: 'hop', session: c.id })} className="chip" data-testid="child-link">{c.protocol} → {c.target}</a>
          ))}</div>
        )}
      </div>
      <Timeline start={start} end={end} markers={hop.markers} cursor={cursor} onSeek={seekTo} />
      <div className={hop.terminal ? 'hop-body with-terminal' : 'hop-body'}>
        <div className="ex-pane" onWheel={unfollow}>
          <Exchanges exchanges={hop.exchanges} current={current} follow={follow} onPick={pick} />
          {hop.exchangesOmitted > 0 && <p className="muted">{hop.exchangesOmitted} more commands not shown; export the hop for all of them.</p>}
        </div>
        {hop.terminal && (
          <TerminalPlayer session={s.id} start={start} end={end} size={hop.terminal} commands={commands} seek={seek} {...(prefetch ? { prefetch } : {})}
            onTime={setCursor} />
        )}
      </div>
    </div>
  );
}
