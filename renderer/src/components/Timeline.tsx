import type { Marker } from '../../../common/api/index.js';
import { clock } from '../format.js';
import { go } from '../route.js';

const SYMBOL: Record<Marker['kind'], string> = { command: '│', block: '⊘', held: '◔', approved: '✔', denied: '✖', revoked: '⚡', child: '↳' };

/** The hop's time strip: markers for commands, policy steps and child hops; click to seek, a child marker opens that hop. */
export function Timeline({ start, end, markers, cursor, onSeek }: { start: number; end: number; markers: Marker[]; cursor: number; onSeek: (t: number) => void }) {
  const span = Math.max(1, end - start);
  const pos = (t: number) => `${Math.min(100, Math.max(0, ((t - start) / span) * 100))}%`;
  return (
    <div className="timeline" data-testid="timeline"
      onClick={(e) => {
        const r = e.currentTarget.getBoundingClientRect();
        onSeek(Math.round(start + ((e.clientX - r.left) / r.width) * span));
      }}>
      <div className="timeline-axis" />
      {markers.map((m, i) => (
        <button key={`${m.kind}-${m.seq}-${i}`} type="button" className={`tl-marker tl-${m.kind}`} style={{ left: pos(m.t) }}
          title={`${clock(m.t)} ${m.kind}: ${m.label}`} data-testid={`marker-${m.kind}`}
          onClick={(e) => {
            e.stopPropagation();
            if (m.kind === 'child' && m.session) go({ view: 'hop', session: m.session });
            else onSeek(m.t);
          }}>{SYMBOL[m.kind]}</button>
      ))}
      <div className="tl-cursor" style={{ left: pos(cursor) }} />
      <span className="tl-label tl-start">{clock(start)}</span>
      <span className="tl-label tl-end">{clock(end)}</span>
    </div>
  );
}
