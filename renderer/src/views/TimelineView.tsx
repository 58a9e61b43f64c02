import { useEffect, useMemo, useState } from 'react';
import type { ChainTimeline, ChainTimelineRow } from '../../../common/api/index.js';
import { api } from '../api.js';
import { clock } from '../format.js';
import { href } from '../route.js';

type Only = 'all' | 'blocked' | 'held' | 'denied' | 'masked' | 'revoked';
const ONLY: { key: Only; label: string; test: (r: ChainTimelineRow) => boolean }[] = [
  { key: 'all', label: 'everything', test: () => true },
  { key: 'blocked', label: 'blocked', test: (r) => /\bblock\b/.test(r.policy ?? '') || r.kind === 'policy' },
  { key: 'held', label: 'held', test: (r) => /\breview\b/.test(r.policy ?? '') || r.kind === 'approval' },
  { key: 'denied', label: 'denied / timed out', test: (r) => /\b(denied|timeout)\b/.test(r.policy ?? '') },
  { key: 'masked', label: 'masked', test: (r) => r.kind === 'masked' },
  { key: 'revoked', label: 'revoked / refused', test: (r) => r.kind === 'revocation' || r.kind === 'refused' || /\brevoked\b/.test(r.policy ?? '') },
];

/**
 * The whole chain in time order: every command, statement, policy step, revocation and refusal of every hop
 * (or of the chain that holds `session`), each with its hop, depth and identity; a child hop tied to the
 * parent's command that opened it, both ways; filtered by what happened.
 */
export function TimelineView({ session }: { session: string | undefined }) {
  const [timeline, setTimeline] = useState<ChainTimeline | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [only, setOnly] = useState<Only>('all');
  useEffect(() => {
    let live = true;
    setTimeline(null);
    api.chainTimeline(session ?? null).then((t) => live && setTimeline(t), (err: Error) => live && setError(err.message));
    return () => { live = false; };
  }, [session]);
  const rows = useMemo(() => (timeline ? timeline.rows.filter(ONLY.find((o) => o.key === only)!.test) : []), [timeline, only]);
  if (error) return <div className="error-banner" role="alert">{error}</div>;
  if (!timeline) return <p className="muted">Reading the timeline…</p>;
  const hopName = (r: Pick<ChainTimelineRow, 'identity' | 'target' | 'protocol'>) => r.protocol === 'gateway' ? 'gateway' : `${r.identity ?? '?'} → ${r.target ?? '?'}`;
  const names = new Map(timeline.rows.filter((r) => r.kind === 'start').map((r) => [r.session, hopName(r)]));
  return (
    <div className="timeline-view" data-testid="chain-timeline">
      <div className="timeline-toolbar">
        <b>{session ? 'The chain of this hop' : 'The whole case'}</b>, in time order · {timeline.rows.length.toLocaleString()} rows
        {timeline.truncated && <span className="bad"> (the first ones only)</span>}
        <span className="timeline-only" role="group" aria-label="show only">
          {ONLY.map((o) => (
            <button key={o.key} type="button" className={only === o.key ? 'chip active' : 'chip'} aria-pressed={only === o.key}
              data-testid={`only-${o.key}`} onClick={() => setOnly(o.key)}>{o.label}</button>
          ))}
        </span>
      </div>
      <table className="timeline-table">
        <thead><tr><th>time</th><th>hop</th><th>what</th><th>policy</th><th>by</th></tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.session}-${r.seq}`} data-testid="timeline-row" data-kind={r.kind} data-session={r.session} data-seq={r.seq}
              className={`kind-${r.kind}${r.policy ? ` has-policy` : ''}`}>
              <td className="mono">{clock(r.t)}</td>
              <td style={{ paddingLeft: 6 + r.depth * 14 }}>
                {r.protocol === 'gateway' ? 'gateway' : <a href={href({ view: 'hop', session: r.session, t: r.t })}>{hopName(r)}</a>}
              </td>
              <td>
                <span className="mono">{r.text}</span>
                {r.response && <div className="timeline-response mono muted" data-testid="timeline-response">← {r.response}</div>}
                {r.opened?.map((child) => (
                  <div key={child} className="opened" data-testid="opened-hop">↳ opened <a href={href({ view: 'hop', session: child })}>{names.get(child) ?? child}</a> <span className="muted">(by time)</span></div>
                ))}
                {r.openedBy && (
                  <div className="opened" data-testid="opened-by">opened by <a href={href({ view: 'hop', session: r.openedBy.session })}>{names.get(r.openedBy.session) ?? r.openedBy.session}</a> #{r.openedBy.seq}</div>
                )}
              </td>
              <td>{r.policy ?? ''}</td>
              <td>{r.actor ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p className="empty">Nothing of that kind in this {session ? 'chain' : 'case'}.</p>}
    </div>
  );
}
