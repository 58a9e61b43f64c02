import { useEffect, useRef } from 'react';
import type { Exchange, Response } from '../../../common/api/index.js';
import { clock } from '../format.js';
import { Masked } from './Masked.js';

/** Commands and statements on the left, their masked responses on the right, row by row; the row at the cursor is marked. */
export function Exchanges({ exchanges, current, follow, onPick }: { exchanges: Exchange[]; current: number; follow: boolean; onPick: (x: Exchange) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!follow) return;
    ref.current?.querySelector(`[data-seq="${current}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [current, follow]);
  return (
    <div className="exchanges" ref={ref} data-testid="exchanges">
      <div className="ex-head"><span>command / statement</span><span>response (as recorded: masked)</span></div>
      {exchanges.map((x) => (
        <div key={x.seq} data-seq={x.seq} className={`ex-row${x.seq === current ? ' current' : ''}${x.policy.some((p) => p.action === 'block') ? ' blocked' : ''}`}
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
            {x.responses.map((r) => <ResponseView key={r.seq} r={r} unmasked={new Set(x.masked.filter((m) => !m.masked).map((m) => m.field))} />)}
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
      ))}
    </div>
  );
}

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
