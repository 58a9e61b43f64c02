import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { Marker } from '../../../common/api/index.js';
import { clock } from '../format.js';
import { go } from '../route.js';

type PolicyKind = Exclude<Marker['kind'], 'command' | 'child'>;
const SYMBOL: Record<PolicyKind | 'child', string> = { block: '⊘', held: '◔', approved: '✔', denied: '✖', timeout: '◷', revoked: '⚡', child: '↳' };
/** Which policy step a cluster shows when several share a place: a block is never hidden behind an approval. */
const PRIORITY: PolicyKind[] = ['block', 'denied', 'timeout', 'revoked', 'held', 'approved'];
/** Bin widths in pixels: command density bars, policy symbols, child-hop buttons (each child keeps its own button while they fit). */
const COMMAND_PX = 6;
const POLICY_PX = 16;
const CHILD_PX = 18;
const TOOLTIP_LINES = 8;

interface Cluster {
  x: number; // 0..1 of the strip
  markers: Marker[];
}

/**
 * Markers grouped into bins `px` wide on a strip `width` pixels wide showing [t0, t1]. Markers outside
 * the window are left out; those after the hop's end (a child that outlived its parent) are already
 * clamped by the caller.
 */
export function bin(markers: Marker[], t0: number, t1: number, width: number, px: number): Cluster[] {
  const n = Math.max(1, Math.floor(width / px));
  const span = Math.max(1, t1 - t0);
  const bins = new Map<number, Marker[]>();
  for (const m of markers) {
    if (m.t < t0 || m.t > t1) continue;
    const i = Math.min(n - 1, Math.floor(((m.t - t0) / span) * n));
    const list = bins.get(i);
    if (list) list.push(m);
    else bins.set(i, [m]);
  }
  return [...bins.entries()].sort((a, b) => a[0] - b[0]).map(([i, ms]) => ({ x: (i + 0.5) / n, markers: ms }));
}

/** Child hops keep one button each: a button that would overlap the one before is moved right (then the row is pulled back inside). */
function dodge(children: Marker[], t0: number, t1: number, width: number): { x: number; m: Marker }[] {
  const span = Math.max(1, t1 - t0);
  const gap = CHILD_PX / Math.max(1, width);
  const out = children.filter((m) => m.t >= t0 && m.t <= t1).map((m) => ({ x: Math.max(gap / 2, (m.t - t0) / span), m }));
  for (let i = 1; i < out.length; i++) out[i]!.x = Math.max(out[i]!.x, out[i - 1]!.x + gap);
  const over = (out.at(-1)?.x ?? 0) - (1 - gap / 2);
  if (over > 0) {
    out[out.length - 1]!.x -= over;
    for (let i = out.length - 2; i >= 0; i--) out[i]!.x = Math.min(out[i]!.x, out[i + 1]!.x - gap);
  }
  return out;
}

function tooltip(ms: Marker[], what: string): string {
  const head = ms.length === 1 ? '' : `${ms.length} ${what} · ${clock(ms[0]!.t)}–${clock(ms.at(-1)!.t)}\n`;
  const lines = ms.slice(0, TOOLTIP_LINES).map((m) => `${clock(m.t)} ${m.kind === 'command' ? '' : `${m.kind}: `}${m.label}`);
  return `${head}${lines.join('\n')}${ms.length > TOOLTIP_LINES ? `\n… ${ms.length - TOOLTIP_LINES} more` : ''}`;
}

const pct = (x: number) => `${(x * 100).toFixed(3)}%`;

/**
 * The hop's time strip, in three rows: policy steps on top (the most serious of a bin shown, with a
 * count), command density in the middle (one bar per few pixels, taller with more commands), child hops
 * below (one button each while they fit). Click the strip or a marker to seek; a child opens that hop.
 * The +/− buttons zoom around the cursor, so thousands of commands can be told apart.
 */
export function Timeline({ start, end, markers, cursor, onSeek, suspect }: {
  start: number; end: number; markers: Marker[]; cursor: number; onSeek: (t: number) => void;
  /** From this time on, the hop's events are not verified evidence (past a break, or an unsigned tail): shaded to the end. */
  suspect?: { t: number; state: string; reason: string } | null;
}) {
  const strip = useRef<HTMLDivElement>(null);
  // The strip's width from a ResizeObserver (after layout; reading it in an effect would force a layout of the page), guessed until then.
  const [width, setWidth] = useState(() => Math.max(200, window.innerWidth - 48));
  const [zoom, setZoom] = useState<{ t0: number; t1: number } | null>(null);
  useEffect(() => {
    const el = strip.current;
    if (!el) return;
    const ro = new ResizeObserver(([e]) => setWidth(Math.max(1, Math.round(e?.contentRect.width ?? 1000))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const t0 = zoom?.t0 ?? start;
  const t1 = zoom?.t1 ?? end;
  const span = Math.max(1, t1 - t0);
  const zoomBy = (f: number) => {
    const w = Math.max(1000, Math.min(end - start, span * f));
    if (w >= end - start) return setZoom(null);
    const mid = Math.min(Math.max(cursor, t0), t1);
    const a = Math.max(start, Math.min(end - w, mid - w / 2));
    setZoom({ t0: Math.round(a), t1: Math.round(a + w) });
  };
  const cursorX = (cursor - t0) / span;
  return (
    <div className="timeline-box">
      <div className="timeline" ref={strip} data-testid="timeline"
        onClick={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          onSeek(Math.round(t0 + ((e.clientX - r.left) / r.width) * span));
        }}>
        <div className="timeline-axis" />
        {suspect && suspect.t <= t1 && (
          <div className={`tl-suspect tl-suspect-${suspect.state}`} data-testid="timeline-suspect" title={suspect.reason} aria-label={suspect.reason} role="note"
            style={{ left: pct(Math.max(0, (suspect.t - t0) / span)) }} />
        )}
        <MarkerRows markers={markers} end={end} t0={t0} t1={t1} width={width} onSeek={onSeek} />
        {cursorX >= 0 && cursorX <= 1 && <div className="tl-cursor" style={{ left: pct(cursorX) }} />}
      </div>
      <div className="tl-labels">
        <span>{clock(t0)}</span>
        <span className="tl-zoom">
          {zoom && <span className="muted">zoomed ×{Math.round((end - start) / span)}</span>}
          <button type="button" onClick={() => zoomBy(1 / 4)} data-testid="timeline-zoom-in" title="zoom in around the cursor" disabled={span <= 1000}>+</button>
          <button type="button" onClick={() => zoomBy(4)} data-testid="timeline-zoom-out" title="zoom out" disabled={!zoom}>−</button>
          <button type="button" onClick={() => setZoom(null)} disabled={!zoom} title="the whole hop">whole hop</button>
        </span>
        <span>{clock(t1)}</span>
      </div>
    </div>
  );
}

/** The markers, apart from the cursor so that playback (which moves the cursor many times a second) does not redraw them. */
const MarkerRows = memo(function MarkerRows({ markers, end, t0, t1, width, onSeek }: {
  markers: Marker[]; end: number; t0: number; t1: number; width: number; onSeek: (t: number) => void;
}) {
  const { commands, policy, children } = useMemo(() => {
    // A child that started after its parent ended sits at the right edge of the whole hop.
    const at = (m: Marker) => (m.t > end ? { ...m, t: end, label: `${m.label} (started ${clock(m.t)}, after this hop ended)` } : m);
    return {
      commands: bin(markers.filter((m) => m.kind === 'command'), t0, t1, width, COMMAND_PX),
      policy: bin(markers.filter((m) => m.kind !== 'command' && m.kind !== 'child'), t0, t1, width, POLICY_PX),
      children: dodge(markers.filter((m) => m.kind === 'child').map(at), t0, t1, width),
    };
  }, [markers, end, t0, t1, width]);
  const densest = Math.max(1, ...commands.map((c) => c.markers.length));
  return (
    <>
      {commands.map((c) => (
        <button key={`c${c.x}`} type="button" className="tl-marker tl-command" data-testid="marker-command" data-count={c.markers.length}
          style={{ left: pct(c.x), height: `${4 + Math.round((14 * Math.log1p(c.markers.length)) / Math.log1p(densest))}px` }}
          title={tooltip(c.markers, 'commands')} aria-label={`${c.markers.length} command${c.markers.length === 1 ? '' : 's'} at ${clock(c.markers[0]!.t)}`}
          onClick={(e) => {
            e.stopPropagation();
            onSeek(c.markers[0]!.t);
          }} />
      ))}
      {policy.map((c) => {
        const kind = PRIORITY.find((k) => c.markers.some((m) => m.kind === k)) ?? 'block';
        const first = c.markers.find((m) => m.kind === kind)!;
        return (
          <button key={`p${c.x}`} type="button" className={`tl-marker tl-policy tl-${kind}`} data-testid={`marker-${kind}`} data-count={c.markers.length}
            style={{ left: pct(c.x) }} title={tooltip(c.markers, 'policy steps')}
            onClick={(e) => {
              e.stopPropagation();
              onSeek(first.t);
            }}>{SYMBOL[kind]}{c.markers.length > 1 && <sup>{c.markers.length}</sup>}</button>
        );
      })}
      {children.map(({ x, m }) => (
        <button key={`h${m.session ?? m.t}`} type="button" className="tl-marker tl-child" data-testid="marker-child" data-session={m.session}
          style={{ left: pct(x) }} title={`${clock(m.t)} child hop: ${m.label} (open it)`}
          onClick={(e) => {
            e.stopPropagation();
            if (m.session) go({ view: 'hop', session: m.session });
          }}>{SYMBOL.child}</button>
      ))}
    </>
  );
});
