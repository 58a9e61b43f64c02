import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Exchange, ExchangeIndex } from '../../../common/api/index.js';
import { rowMark, type RecordingFile } from '../evidence.js';
import { Placeholder, Row } from './ExchangeRow.js';

/** Rows drawn above and below the visible ones, so a short scroll shows rows at once (and their pages are asked for early). */
const OVERSCAN = 12;
/** The column header's height until it is measured: the list starts below it, and it covers the top of the view. */
const HEAD_PX = 26;

/** A first guess of a row's height from what it holds, before it is drawn. */
function estimate(x: Exchange): number {
  const lines = (s: string | undefined, max: number) => Math.min(max, (s?.match(/\n/g)?.length ?? 0) + 1);
  let resp = 0;
  for (const r of x.responses) resp += 16 + (r.rows?.length ? 20 + r.rows.length * 19 : 0) + (r.text ? 6 + lines(r.text, 14) * 15 : 0) + (r.truncated ? 16 : 0);
  if (x.masked.length) resp += 24;
  return 14 + Math.max(16 + lines(x.text, 40) * 15 + x.policy.length * 18, resp);
}

/** The height of every row not measured yet, placeholders included: the mean guess of the first rows read. */
function unmeasuredHeight(rows: (Exchange | undefined)[]): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < rows.length && n < 1000; i++) {
    const x = rows[i];
    if (x) {
      sum += estimate(x);
      n++;
    }
  }
  return n > 0 ? Math.round(sum / n) : 60;
}

/**
 * Commands and statements on the left, their masked responses on the right, row by row; the row at the
 * cursor is marked and, while following, kept in view. Every row of the hop has its place (from the
 * index), but only the rows near the visible part are in the page: @tanstack/react-virtual places them,
 * measures them once drawn and, when a row above the view turns out taller or shorter than its estimate,
 * moves the scroll by as much so what is on screen stays put. Rows not read yet are asked for with
 * `onNeed` and drawn as placeholders until they come.
 */
export const Exchanges = memo(function Exchanges({ index, rows, current, follow, onPick, onNeed, file }: {
  index: ExchangeIndex; rows: (Exchange | undefined)[]; current: number; follow: boolean;
  onPick: (t: number) => void; onNeed: (first: number, last: number) => void;
  /** The hop's recording: rows past a break in its chain, or in its unverified tail, are marked on the row. */
  file?: RecordingFile | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const head = useRef<HTMLDivElement>(null);
  const count = index.seq.length;

  // One estimate for every row not measured yet, fixed per hop: an estimate that changed as pages arrive would
  // move every row below it, and the virtualizer only reads estimates again from a row that was measured.
  const [unmeasured, setUnmeasured] = useState(() => ({ index, height: unmeasuredHeight(rows) }));
  const [margin, setMargin] = useState(HEAD_PX);
  const getItemKey = useCallback((i: number) => index.seq[i]!, [index]);
  const estimateSize = useCallback(() => unmeasured.height, [unmeasured]);
  const list = useVirtualizer<HTMLDivElement, HTMLDivElement>({
    count, getItemKey, estimateSize, overscan: OVERSCAN,
    getScrollElement: () => box.current,
    // The list starts below the header (scrollMargin), and a row scrolled to the top lands below it, not under it.
    scrollMargin: margin, scrollPaddingStart: margin,
    // The first render draws about a screen of rows rather than none, before the box is measured.
    initialRect: { width: 0, height: Math.max(200, window.innerHeight - 260) },
  });

  useLayoutEffect(() => {
    const h = head.current?.getBoundingClientRect().height;
    if (h) setMargin(h);
  }, []);
  // Another hop in the same list: its rows have the same seq numbers, so the sizes measured for the last hop are forgotten.
  useLayoutEffect(() => {
    if (unmeasured.index === index) return;
    setUnmeasured({ index, height: unmeasuredHeight(rows) });
    list.measure();
  }, [index, rows, unmeasured, list]);

  const items = list.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = (items[items.length - 1]?.index ?? -1) + 1;
  useEffect(() => onNeed(first, last), [first, last, onNeed]);

  // While following, the current row is brought into view (only if it is not: align 'auto'); again once it has
  // been read, since its height was an estimate until then. The virtualizer keeps it there while the rows
  // around it are measured, until the position holds.
  const currentRead = rows[current] !== undefined;
  useLayoutEffect(() => {
    if (follow && current >= 0 && current < count) list.scrollToIndex(current, { align: 'auto' });
  }, [current, currentRead, follow, count, list]);

  return (
    <div className="exchanges" ref={box} data-testid="exchanges" data-rows={count}>
      <div className="ex-head" ref={head}><span>command / statement</span><span>response (as recorded: masked)</span></div>
      <div style={{ height: list.getTotalSize(), position: 'relative' }}>
        {items.map((item) => {
          const i = item.index;
          const x = rows[i];
          const top = item.start - margin;
          return x
            ? <Row key={item.key} x={x} index={i} top={top} current={i === current} onPick={onPick} measure={list.measureElement} file={file ?? null} />
            : <Placeholder key={item.key} index={index} i={i} height={unmeasured.height} top={top} current={i === current} onPick={onPick}
              mark={rowMark(index.seq[i]!, file)} />;
        })}
      </div>
    </div>
  );
});
