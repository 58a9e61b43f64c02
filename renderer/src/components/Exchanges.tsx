import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { Exchange, Response } from '../../../common/api/index.js';
import { clock } from '../format.js';
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

/**
 * Commands and statements on the left, their masked responses on the right, row by row; the row at the
 * cursor is marked and, while following, kept in view. Only the rows near the visible part are in the
 * page (heights measured once drawn, guessed before), so a hop of thousands of commands opens at once.
 */
export const Exchanges = memo(function Exchanges({ exchanges, current, follow, onPick }: {
  exchanges: Exchange[]; current: number; follow: boolean; onPick: (x: Exchange) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const measured = useRef(new Map<number, number>());
  const [version, setVersion] = useState(0);
  const [view, setView] = useState(() => ({ top: 0, height: Math.max(200, window.innerHeight - 260) }));

  const offsets = useMemo(() => {
    const out = new Float64Array(exchanges.length + 1);
    for (let i = 0; i < exchanges.length; i++) out[i + 1] = out[i]! + (measured.current.get(exchanges[i]!.seq) ?? estimate(exchanges[i]!));
    return out;
  }, [exchanges, version]); // `version`: the measured heights changed

  const indexAt = useCallback((y: number) => {
    let lo = 0;
    let hi = exchanges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid + 1]! <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }, [exchanges.length, offsets]);

  const first = indexAt(Math.max(0, view.top - HEAD_PX - OVERSCAN_PX));
  const last = Math.min(exchanges.length, indexAt(view.top + view.height + OVERSCAN_PX) + 1);
  const latest = useRef({ exchanges, offsets });
  latest.current = { exchanges, offsets };

  // Sizes come from ResizeObservers (after layout), never from reading the layout in an effect: a forced
  // layout of the page cost more than drawing the rows. A row above the visible part that turns out taller
  // or shorter than guessed moves the scroll by as much, so what is on screen stays put.
  const rows = useMemo(() => new ResizeObserver((entries) => {
    const el = box.current;
    if (!el) return;
    const { exchanges: xs, offsets: at } = latest.current;
    let changed = false;
    let above = 0;
    for (const e of entries) {
      const row = e.target as HTMLElement;
      const i = Number(row.dataset.index);
      const x = xs[i];
      if (!x || !row.isConnected) continue;
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
  useEffect(() => () => rows.disconnect(), [rows]);
  const observe = useCallback((row: HTMLDivElement | null) => {
    if (!row) return undefined;
    rows.observe(row);
    return () => rows.unobserve(row);
  }, [rows]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const read = () => setView({ top: el.scrollTop, height: el.clientHeight || 800 });
    const ro = new ResizeObserver(read);
    ro.observe(el);
    el.addEventListener('scroll', read, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener('scroll', read);
    };
  }, []);

  // While following, the current row is kept in view (where it should be is known from the offsets, without reading the layout).
  const currentIndex = useMemo(() => exchanges.findIndex((x) => x.seq === current), [exchanges, current]);
  useLayoutEffect(() => {
    const el = box.current;
    if (!follow || !el || currentIndex < 0) return;
    const top = offsets[currentIndex]!;
    const bottom = offsets[currentIndex + 1]! + HEAD_PX;
    if (top < view.top) el.scrollTop = top;
    else if (bottom > view.top + view.height) el.scrollTop = Math.max(top, bottom - view.height);
  }, [currentIndex, follow]); // when the current row changes, not on every measure

  return (
    <div className="exchanges" ref={box} data-testid="exchanges" data-rows={exchanges.length}>
      <div className="ex-head"><span>command / statement</span><span>response (as recorded: masked)</span></div>
      <div style={{ height: offsets[first] }} />
      {exchanges.slice(first, last).map((x, k) => (
        <Row key={x.seq} x={x} index={first + k} current={x.seq === current} onPick={onPick} observe={observe} />
      ))}
      <div style={{ height: offsets[exchanges.length]! - offsets[last]! }} />
    </div>
  );
});

const Row = memo(function Row({ x, index, current, onPick, observe }: {
  x: Exchange; index: number; current: boolean; onPick: (x: Exchange) => void; observe: (row: HTMLDivElement | null) => (() => void) | undefined;
}) {
  const unmasked = useMemo(() => new Set(x.masked.filter((m) => !m.masked).map((m) => m.field)), [x]);
  return (
    <div ref={observe} data-seq={x.seq} data-index={index} className={`ex-row${current ? ' current' : ''}${x.policy.some((p) => p.action === 'block') ? ' blocked' : ''}`}
      data-testid="exchange" onClick={() => onPick(x)}>
      <div className="ex-cmd">
        <div className="ex-meta">{clock(x.t)} · #{x.seq} · {x.kind}</div>
        <pre className={`ex-text kind-${x.kind}`}>{x.text}</pre>
        {x.policy.map((p) => (
          <div key={p.seq} className={`policy policy-${p.action}`} data-testid="policy-step">
            {p.action.toUpperCase()}{p.rule ? ` · rule ${p.rule}` : ''}{p.actor ? ` · by ${p.actor}` : ''}{p.approvalId ? ` · ${p.approvalId}` : ''}
            {p.message ? ` · ${p.message}` : ''}
          </div>
        ))}
      </div>
      <div className="ex-resp">
        {x.responses.map((r) => <ResponseView key={r.seq} r={r} unmasked={unmasked} />)}
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
function ResponseView({ r, unmasked }: { r: Response; unmasked: Set<string> }) {
  if (r.kind === 'result') {
    return (
      <div className="resp resp-result">
        <div className="ex-meta">{clock(r.t)} · {r.summary} · {r.rowCount ?? 0} rows</div>
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
      <div className="ex-meta">{clock(r.t)} · {r.summary}</div>
      {r.text ? <pre className="resp-text"><Masked text={r.text} /></pre> : null}
      {r.truncated && <div className="muted small">… output cut here; play the terminal for all of it</div>}
    </div>
  );
}
