import { useCallback, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { Exchange, HopDetail, Marker, Screen } from '../../../common/api/index.js';
import { api } from '../api.js';
import { CountBadges, IntegrityBadge } from '../components/Badges.js';
import { Exchanges } from '../components/Exchanges.js';
import { TerminalPlayer, type SeekRequest } from '../components/TerminalPlayer.js';
import { Timeline } from '../components/Timeline.js';
import { chainOf, revocationOf, revokedBy, rowMark, type RecordingFile } from '../evidence.js';
import { clock, dateTime, duration, shortId } from '../format.js';
import { href } from '../route.js';

/** Rows asked for at once when the user scrolls or seeks to rows not read yet (pages start at multiples of it). */
const PAGE = 250;

/** The position of `x` in the ascending list `xs`: the number of entries <= x (upper bound). */
function upper(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One hop: what it issued beside what came back, on a timeline, with its terminal when it had one. */
export function HopView({ session, at, protocol }: { session: string; at?: number; protocol?: string }) {
  const [hop, setHop] = useState<HopDetail | null>(null);
  // Every row of the hop by its place in the index; a page at a time is read as the user scrolls or seeks.
  const [rows, setRows] = useState<(Exchange | undefined)[]>([]);
  const asked = useRef(new Set<number>());
  const [error, setError] = useState<string | null>(null);
  const [pageError, setPageError] = useState<string | null>(null);
  const [cursor, setCursor] = useState(0);
  const [seek, setSeek] = useState<SeekRequest | null>(null);
  const [follow, setFollow] = useState(true);

  const [prefetch, setPrefetch] = useState<{ t: number; screen: Promise<Screen | null> } | undefined>(undefined);
  // A layout effect: the requests leave before the first paint rather than a frame after it.
  useLayoutEffect(() => {
    const opened = performance.now();
    const asking = api.hop(session);
    asked.current = new Set();
    // An SSH hop opened at a time: its screen is asked for right after the hop, not once the hop has rendered.
    setPrefetch(at && protocol === 'ssh' ? { t: at, screen: api.screenAt(session, at).catch((): Screen | null => null) } : undefined);
    asking.then((h) => {
      const all = new Array<Exchange | undefined>(h.index.seq.length).fill(undefined); // no holes: every() and friends skip holes
      for (const x of h.exchanges) all[upper(h.index.seq, x.seq) - 1] = x;
      setRows(all);
      setHop(h);
      const t0 = at ?? h.session.startMicros ?? 0;
      setCursor(t0);
      if (at) setSeek({ t: at, n: 1 });
      requestAnimationFrame(() => document.body.setAttribute('data-hop-opened-ms', String(Math.round(performance.now() - opened))));
    }, (err: Error) => setError(err.message));
  }, [session, at, protocol]);

  // The pages under rows [first, last) that are neither read nor asked for yet.
  const need = useCallback((first: number, last: number) => {
    if (!hop) return;
    const { seq } = hop.index;
    for (let page = Math.floor(first / PAGE); page * PAGE < last; page++) {
      const from = page * PAGE;
      const to = Math.min(seq.length, from + PAGE);
      if (asked.current.has(page) || !rows.slice(from, to).includes(undefined)) continue;
      asked.current.add(page);
      api.hopExchanges(hop.session.id, seq[from]!, to - from).then((p) => {
        setRows((was) => {
          const next = was.slice();
          for (const x of p.exchanges) next[upper(seq, x.seq) - 1] = x;
          return next;
        });
      }, (err: Error) => {
        asked.current.delete(page);
        setPageError(`rows ${from + 1}–${to} could not be read: ${err.message}`);
      });
    }
  }, [hop, rows]);

  const seekTo = useCallback((t: number) => {
    setCursor(t);
    setFollow(true);
    setSeek((s) => ({ t, n: (s?.n ?? 0) + 1 }));
  }, []);
  // The row at the cursor: the last one at or before it (the index is in time order).
  const current = useMemo(() => (hop ? upper(hop.index.t, cursor) - 1 : -1), [hop, cursor]);
  // Commands are marked by kind only; those whose rows were read show their text in the tooltips.
  const markers = useMemo<Marker[]>(() => {
    if (!hop) return [];
    return hop.markers.map((m) => {
      if (m.kind !== 'command') return m;
      const x = rows[upper(hop.index.seq, m.seq) - 1];
      return x && x.seq === m.seq ? { ...m, label: x.text.slice(0, 120) } : m;
    });
  }, [hop, rows]);
  const commands = useMemo(() => markers.filter((m) => m.kind === 'command'), [markers]);
  const unfollow = useCallback(() => setFollow(false), []);

  if (error) return <p className="error-banner">{error}</p>;
  if (!hop) return <p className="muted">Opening {session}…</p>;
  const s = hop.session;
  const start = s.startMicros ?? 0;
  // Markers after the end (a child that outlived its parent) sit at the right edge.
  const end = Math.max(s.endMicros ?? hop.markers.reduce((a, m) => Math.max(a, m.t), start), start + 1);
  const file = hop.file as RecordingFile | null;
  const revocation = revocationOf(s);
  return (
    <div className="hop-view" data-testid="hop-view" data-session={s.id} data-protocol={s.protocol}>
      <div className="hop-header">
        {s.protocol === 'gateway'
          ? <h2><span className="proto proto-gateway">gateway</span> the gateway's own recording <span className="muted small">(starts, stops, refusals before a session, revocations)</span></h2>
          : <h2><span className={`proto proto-${s.protocol}`}>{s.protocol}</span> {s.identity ?? '?'} → {s.target ?? '?'}</h2>}
        <div className="hop-facts">
          <span className="mono" title={s.id}>{s.id}</span>
          <span>{dateTime(s.startMicros)} UTC · {s.endMicros && s.startMicros ? duration(s.endMicros - s.startMicros) : 'no end'}</span>
          {hop.link && (
            <span>via <b className={hop.link.inferred ? 'inferred' : 'proven'}>{hop.link.kind}{hop.link.inferred ? ' (inferred)' : ' (proven)'}</b> from{' '}
              {hop.link.parentMissing ? <span className="mono">{shortId(hop.link.from)} (not in case)</span>
                : <a href={href({ view: 'hop', session: hop.link.from })} data-testid="parent-link">{shortId(hop.link.from)}</a>}</span>
          )}
          <IntegrityBadge integrity={s.integrity} sealed={s.sealed} chain={file ?? chainOf(s)} />
          <CountBadges counts={s.counts} revoked={s.revoked} revocation={revocation} />
        </div>
        {s.revoked && (
          <div className="revocation-line" data-testid="hop-revocation">⚡ {revokedBy(revocation)}{revocation?.t ? ` at ${clock(revocation.t)} UTC` : ''}
            {revocation?.recording && <> — <a href={href({ view: 'hop', session: revocation.recording })} data-testid="revocation-record">recorded by the gateway, #{revocation.seq}</a></>}
            {s.endReason && <span className="muted"> · session ended: {s.endReason}</span>}
          </div>
        )}
        <EvidenceBanner file={file} />
        {hop.file && <div className="muted small mono" title={hop.file.path}>recording sha256 {hop.file.sha256}</div>}
        {hop.children.length > 0 && (
          <div className="children">child hops: {hop.children.map((c) => (
            <a key={c.id} href={href({ view: 'hop', session: c.id })} className="chip" data-testid="child-link">{c.protocol} → {c.target}</a>
          ))}</div>
        )}
      </div>
      <Timeline start={start} end={end} markers={markers} cursor={cursor} onSeek={seekTo} suspect={suspectFrom(hop, file)} />
      <div className={hop.terminal ? 'hop-body with-terminal' : 'hop-body'}>
        <div className="ex-pane" onWheel={unfollow}>
          <Exchanges index={hop.index} rows={rows} current={current} follow={follow} onPick={seekTo} onNeed={need} file={file} />
          {pageError && <p className="error-banner" role="alert">{pageError}</p>}
        </div>
        {hop.terminal && (
          <TerminalPlayer session={s.id} start={start} end={end} size={hop.terminal} commands={commands} seek={seek} {...(prefetch ? { prefetch } : {})}
            onTime={setCursor} />
        )}
      </div>
    </div>
  );
}

/** Above the rows: how many of them are not verified evidence, and why (each such row is marked too). */
function EvidenceBanner({ file }: { file: RecordingFile | null }) {
  if (!file || file.lastSeq === undefined) return null;
  const last = rowMark(file.lastSeq, file);
  if (!last) return null;
  const from = last.state === 'tampered' ? file.intactThrough! + 1 : file.keyTrusted === false ? 1 : file.signedThrough! + 1;
  return (
    <p className={`evidence-banner evidence-${last.state}`} data-testid="evidence-banner" role="note">
      {last.state === 'tampered' ? '✖' : '⚠'} Events from seq {from} on are {last.state === 'tampered' ? 'past a break in the hash chain: not evidence' : 'not covered by a valid signature: unverified'}.
      Each such row is marked; hover a mark for the reason.
    </p>
  );
}

/** Where the timeline's shading starts: the first row that is not verified evidence. */
function suspectFrom(hop: HopDetail, file: RecordingFile | null): { t: number; state: string; reason: string } | null {
  if (!file || file.lastSeq === undefined) return null;
  const last = rowMark(file.lastSeq, file);
  if (!last) return null;
  const i = hop.index.seq.findIndex((seq) => rowMark(seq, file) !== null);
  if (i < 0) return null;
  return { t: hop.index.t[i]!, state: last.state, reason: last.state === 'tampered' ? 'past a break in the hash chain: not evidence' : 'not covered by a valid signature: unverified' };
}
