import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Exchange, ExchangeIndex, Response } from '../../../common/api/index.js';
import { rowMark, type GatewayFact, type RecordingFile, type RowMark } from '../evidence.js';
import { clock } from '../format.js';
import { href } from '../route.js';
import { Masked } from './Masked.js';

/** Pixels drawn above and below the visible part, so a short scroll shows rows at once. */
const OVERSCAN_PX = 600;
const HEAD_PX = 26;

/** A first guess of a row's height before it is measured (close enough that the scroll bar hardly moves). */
function estimate(x: Exchange): number {
  const lines = (s: string | undefined, max: number) => Math.min(max, (s?.match(/\n/g)?.length ?? 0) + 1);
  let resp = 0;
  for (const r of x.responses) resp += 16 + (r.rows?.length ? 20 + r.rows.length * 19 : 0) + (r.text ? 6 + lines(r.text, 14) * 15 : 0) + (r.truncated ? 16 : 0);
  if (x.masked.length) resp += 24;
  return 14 + Math.max(16 + lines(x.text, 40) * 15 + x.policy.length * 18, resp);
}

/** The height given to the rows not read yet: the mean guess of the first rows read, fixed (a change would move everything below). */
function placeholderHeight(rows: (Exchange | undefined)[]): number | null {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < rows.length && n < 1000; i++) {
    const x = rows[i];
    if (x) {
      sum += estimate(x);
      n++;
    }
  }
  return n > 0 ? Math.round(sum / n) : null;
}

/**
 * Commands and statements on the left, their masked responses on the right, row by row; the row at the
 * cursor is marked and, while following, kept in view. Every row of the hop has its place (from the
 * index), but only the rows near the visible part are in the page (heights measured once drawn, guessed
 * before), and rows not read yet are asked for with `onNeed` and drawn as placeholders until they come.
 */
export const Exchanges = memo(function Exchanges({ index, rows, current, follow, onPick, onNeed, file }: {
  index: ExchangeIndex; rows: (Exchange | undefined)[]; current: number; follow: boolean;
  onPick: (t: number) => void; onNeed: (first: number, last: number) => void;
  /** The hop's recording: rows past a break in its chain, or in its unverified tail, are marked on the row. */
  file?: RecordingFile | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const measured = useRef(new Map<number, number>());
  const unread = useRef<number | null>(null);
  const moved = useRef<number | null>(null); // a scroll set in this commit, before its scroll event updates `view`
  const [version, setVersion] = useState(0);
  const [view, setView] = useState(() => ({ top: 0, height: Math.max(200, window.innerHeight - 260) }));
  const count = index.seq.length;

  unread.current ??= placeholderHeight(rows);
  const guess = unread.current ?? 60;
  const offsets = useMemo(() => {
    const out = new Float64Array(count + 1);
    for (let i = 0; i < count; i++) {
      const x = rows[i];
      out[i + 1] = out[i]! + (x ? measured.current.get(x.seq) ?? estimate(x) : guess);
    }
    return out;
  }, [count, rows, guess, version]); // `version`: the measured heights changed

  const indexAt = useCallback((y: number) => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid + 1]! <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }, [count, offsets]);

  const first = indexAt(Math.max(0, view.top - HEAD_PX - OVERSCAN_PX));
  const last = Math.min(count, indexAt(view.top + view.height + OVERSCAN_PX) + 1);
  const latest = useRef({ rows, offsets });
  latest.current = { rows, offsets };
  useEffect(() => onNeed(first, last), [first, last, onNeed]);

  // Sizes come from ResizeObservers (after layout), never from reading the layout in an effect: a forced
  // layout of the page cost more than drawing the rows. A row above the visible part that turns out taller
  // or shorter than guessed moves the scroll by as much, so what is on screen stays put.
  const observer = useMemo(() => new ResizeObserver((entries) => {
    const el = box.current;
    if (!el) return;
    const { rows: xs, offsets: at } = latest.current;
    let changed = false;
    let above = 0;
    for (const e of entries) {
      const row = e.target as HTMLElement;
      const i = Number(row.dataset.index);
      const x = xs[i];
      if (!x || !row.isConnected || row.dataset.placeholder) continue;
      const h = e.borderBoxSize[0]?.blockSize ?? row.offsetHeight;
      const was = measured.current.get(x.seq) ?? estimate(x);
      if (Math.abs(h - was) < 0.5) continue;
      measured.current.set(x.seq, h);
      changed = true;
      if (at[i + 1]! + HEAD_PX <= el.scrollTop) above += h - was;
    }
    if (above !== 0) el.scrollTop += above;
    if (changed) setVersion((v) => v + 1);
  }), []);
  useEffect(() => () => observer.disconnect(), [observer]);
  const observe = useCallback((row: HTMLDivElement | null) => {
    if (!row) return undefined;
    observer.observe(row);
    return () => observer.unobserve(row);
  }, [observer]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const read = () => {
      moved.current = null;
      setView({ top: el.scrollTop, height: el.clientHeight || 800 });
    };
    const ro = new ResizeObserver(read);
    ro.observe(el);
    el.addEventListener('scroll', read, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener('scroll', read);
    };
  }, []);

  // Rows read above the visible part replace placeholders of another height: the scroll moves by as much, so what is on screen stays put.
  const before = useRef(rows);
  useLayoutEffect(() => {
    const was = before.current;
    before.current = rows;
    const el = box.current;
    if (!el || was === rows) return;
    let delta = 0;
    for (let i = 0; i < count; i++) {
      const d = !was[i] && rows[i] ? offsets[i + 1]! - offsets[i]! - guess : 0;
      if (offsets[i + 1]! - delta - d + HEAD_PX > view.top) break;
      delta += d;
    }
    if (delta !== 0) el.scrollTop = moved.current = view.top + delta;
  }, [rows]); // when rows arrive, not on every measure

  // While following, the current row is kept in view (where it should be is known from the offsets, without reading the layout);
  // again once it has been read, since its height and those of its neighbours were guesses until then.
  const currentRead = rows[current] !== undefined;
  useLayoutEffect(() => {
    const el = box.current;
    if (!follow || !el || current < 0 || current >= count) return;
    const at = moved.current ?? view.top;
    const top = offsets[current]!;
    const bottom = offsets[current + 1]! + HEAD_PX;
    if (top < at) el.scrollTop = moved.current = top;
    else if (bottom > at + view.height) el.scrollTop = moved.current = Math.max(top, bottom - view.height);
  }, [current, currentRead, follow]); // when the current row changes or arrives, not on every measure

  const drawn: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const x = rows[i];
    drawn.push(x ? <Row key={index.seq[i]} x={x} index={i} current={i === current} onPick={onPick} observe={observe} file={file ?? null} />
      : <Placeholder key={index.seq[i]} index={index} i={i} height={guess} current={i === current} onPick={onPick} mark={rowMark(index.seq[i]!, file)} />);
  }
  return (
    <div className="exchanges" ref={box} data-testid="exchanges" data-rows={count}>
      <div className="ex-head"><span>command / statement</span><span>response (as recorded: masked)</span></div>
      <div style={{ height: offsets[first] }} />
      {drawn}
      <div style={{ height: offsets[count]! - offsets[last]! }} />
    </div>
  );
});

/** A row whose page has not come yet: its time, seq and kind from the index, at the height rows have on average. */
function Placeholder({ index, i, height, current, onPick, mark }: {
  index: ExchangeIndex; i: number; height: number; current: boolean; onPick: (t: number) => void; mark: RowMark | null;
}) {
  return (
    <div data-seq={index.seq[i]} data-index={i} data-placeholder="yes" className={`ex-row placeholder${current ? ' current' : ''}${mark ? ` suspect suspect-${mark.state}` : ''}`}
      style={{ height, boxSizing: 'border-box' }} data-testid="exchange-pending" onClick={() => onPick(index.t[i]!)} {...(mark ? { title: mark.reason } : {})}>
      <div className="ex-cmd"><div className="ex-meta">{clock(index.t[i]!)} · #{index.seq[i]} · {index.kind[i]}</div><span className="muted small">loading…</span></div>
      <div className="ex-resp" />
    </div>
  );
}

/** The mark of a row's part (response, policy step) when it differs from the row's own: shown beside that part. */
function PartMark({ mark, row }: { mark: RowMark | null; row: RowMark | null }) {
  if (!mark || mark.state === row?.state) return null;
  return <MarkBadge mark={mark} />;
}

/** On the row itself: what makes it not verified evidence, the reason on hover and for screen readers. */
function MarkBadge({ mark, part }: { mark: RowMark; part?: string }) {
  const reason = part ? `A ${part} in this row: ${mark.reason}` : mark.reason;
  return (
    <span className={`row-mark row-mark-${mark.state}`} data-testid="row-mark" data-state={mark.state} role="note" title={reason} aria-label={reason}>
      {mark.state === 'tampered' ? '✖ ' : '⚠ '}{part ? `${part} ` : ''}{mark.label}
    </span>
  );
}

const Row = memo(function Row({ x, index, current, onPick, observe, file }: {
  x: Exchange; index: number; current: boolean; onPick: (t: number) => void; observe: (row: HTMLDivElement | null) => (() => void) | undefined;
  file: RecordingFile | null;
}) {
  const unmasked = useMemo(() => new Set(x.masked.filter((m) => !m.masked).map((m) => m.field)), [x]);
  const mark = rowMark(x.seq, file);
  // A row is as good as the worst of its events: a verified command whose response lies past the break is marked too.
  const worst = [mark, ...x.responses.map((r) => rowMark(r.seq, file)), ...x.policy.map((p) => rowMark(p.seq, file))]
    .reduce<RowMark | null>((a, m) => (!m ? a : !a || (a.state === 'unverified' && m.state === 'tampered') ? m : a), null);
  const facts = (x as Exchange & { facts?: GatewayFact[] }).facts;
  return (
    <div ref={observe} data-seq={x.seq} data-index={index} data-evidence={worst?.state ?? 'verified'}
      className={`ex-row${current ? ' current' : ''}${x.policy.some((p) => p.action === 'block') ? ' blocked' : ''}${worst ? ` suspect suspect-${worst.state}` : ''}`}
      data-testid="exchange" onClick={() => onPick(x.t)} {...(worst ? { title: worst.reason } : {})}>
      <div className="ex-cmd">
        <div className="ex-meta">{clock(x.t)} · #{x.seq} · {x.kind}{mark ? <> <MarkBadge mark={mark} /></> : worst && <> <MarkBadge mark={worst} part="reply" /></>}</div>
        <pre className={`ex-text kind-${x.kind}`}>{x.text}</pre>
        {x.policy.map((p) => (
          <div key={p.seq} className={`policy policy-${p.action}`} data-testid="policy-step">
            {p.action.toUpperCase()}{p.rule ? ` · rule ${p.rule}` : ''}{p.actor ? ` · by ${p.actor}` : ''}{p.approvalId ? ` · ${p.approvalId}` : ''}
            {p.message ? ` · ${p.message}` : ''}
            <PartMark mark={rowMark(p.seq, file)} row={mark} />
          </div>
        ))}
        {facts && facts.length > 0 && (
          <dl className="gw-facts" data-testid="gateway-facts">
            {facts.map((f, i) => (
              <div key={i} className="gw-fact"><dt>{f.label}</dt><dd className="mono">{f.session
                ? <a href={href({ view: 'hop', session: f.session })} onClick={(e) => e.stopPropagation()}>{f.value}</a> : f.value}</dd></div>
            ))}
          </dl>
        )}
      </div>
      <div className="ex-resp">
        {x.responses.map((r) => <ResponseView key={r.seq} r={r} unmasked={unmasked} mark={<PartMark mark={rowMark(r.seq, file)} row={mark} />} />)}
        {x.masked.length > 0 && (
          <div className="mask-notes">
            {x.masked.map((m) => (
              <span key={`${m.field}-${m.rule}-${m.masked}`} className={`badge ${m.masked ? 'masked' : 'bad'}`}>
                {m.masked ? `▒ ${m.field} masked${m.rule ? ` by ${m.rule}` : ''} ×${m.count}` : `! ${m.field} UNMASKED (${m.rule ?? 'looks sensitive'}) ×${m.count}`}
              </span>
            ))}
          </div>
        )}
      </div>
    </div>
  );
});

/** A response; values of fields that look sensitive and came back unmasked are marked too. */
function ResponseView({ r, unmasked, mark }: { r: Response; unmasked: Set<string>; mark: ReactNode }) {
  if (r.kind === 'result') {
    return (
      <div className="resp resp-result">
        <div className="ex-meta">{clock(r.t)} · {r.summary} · {r.rowCount ?? 0} rows {mark}</div>
        {r.columns && r.columns.length > 0 && r.rows && r.rows.length > 0 && (
          <table className="result-table">
            <thead><tr>{r.columns.map((c, i) => <th key={i}>{c}</th>)}</tr></thead>
            <tbody>{r.rows.map((row, i) => <tr key={i}>{row.map((v, j) => (
              <td key={j}>{unmasked.has(r.columns![j]!) ? <span className="unmasked-value" title="looks sensitive and was returned unmasked">{v}</span> : <Masked text={v} />}</td>
            ))}</tr>)}</tbody>
          </table>
        )}
        {r.truncated && <div className="muted small">… more rows than recorded or shown</div>}
      </div>
    );
  }
  return (
    <div className={`resp resp-${r.kind}`}>
      <div className="ex-meta">{clock(r.t)} · {r.summary} {mark}</div>
      {r.text ? <pre className="resp-text"><Masked text={r.text} /></pre> : null}
      {r.truncated && <div className="muted small">… output cut here; play the terminal for all of it</div>}
    </div>
  );
}
