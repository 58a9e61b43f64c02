import { memo, useMemo, type CSSProperties, type ReactNode } from 'react';
import type { Exchange, ExchangeIndex, PolicyStep, Response } from '../../../common/api/index.js';
import { rowMark, type GatewayFact, type RecordingFile, type RowMark } from '../evidence.js';
import { clock } from '../format.js';
import { href } from '../route.js';
import { Masked } from './Masked.js';

// The rows of the Exchanges list: a read row (command or statement beside its responses) and the placeholder
// of a row whose page has not come yet. The list places them (`place`: where the virtualizer put the row).

/** Where the list puts a row: out of the flow, at its offset from the top of the list. */
export function placeAt(top: number): CSSProperties {
  return { position: 'absolute', top: 0, left: 0, width: '100%', transform: `translateY(${top}px)` };
}

/**
 * A row whose page has not come yet: its time, seq and kind from the index, at the height the list gives
 * rows not measured yet. Not measured itself: its height is that estimate by construction, so the row that
 * replaces it is measured for the first time and the list keeps what is on screen in place if it lies above.
 */
export const Placeholder = memo(function Placeholder({ index, i, height, top, current, onPick, mark }: {
  index: ExchangeIndex; i: number; height: number; top: number; current: boolean; onPick: (t: number) => void; mark: RowMark | null;
}) {
  return (
    <div data-seq={index.seq[i]} data-index={i} data-placeholder="yes" className={`ex-row placeholder${current ? ' current' : ''}${mark ? ` suspect suspect-${mark.state}` : ''}`}
      style={{ ...placeAt(top), height, boxSizing: 'border-box' }} data-testid="exchange-pending" onClick={() => onPick(index.t[i]!)} {...(mark ? { title: mark.reason } : {})}>
      <div className="ex-cmd"><div className="ex-meta">{clock(index.t[i]!)} · #{index.seq[i]} · {index.kind[i]}</div><span className="muted small">loading…</span></div>
      <div className="ex-resp" />
    </div>
  );
});

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

/** A read row, measured by the list once drawn (`measure`: the virtualizer's measureElement, which reads data-index). */
export const Row = memo(function Row({ x, index, top, current, onPick, measure, file }: {
  x: Exchange; index: number; top: number; current: boolean; onPick: (t: number) => void; measure: (row: HTMLDivElement | null) => void;
  file: RecordingFile | null;
}) {
  const { mark, worst } = useMemo(() => marksOf(x, file), [x, file]);
  return (
    <div ref={measure} data-seq={x.seq} data-index={index} data-evidence={worst?.state ?? 'verified'} style={placeAt(top)}
      className={`ex-row${current ? ' current' : ''}${x.policy.some((p) => p.action === 'block') ? ' blocked' : ''}${worst ? ` suspect suspect-${worst.state}` : ''}`}
      data-testid="exchange" onClick={() => onPick(x.t)} {...(worst ? { title: worst.reason } : {})}>
      <RowParts x={x} mark={mark} worst={worst} file={file} />
    </div>
  );
});

/** The mark of the row's own event, and the worst of its events: a verified command whose response lies past the break is marked too. */
function marksOf(x: Exchange, file: RecordingFile | null): { mark: RowMark | null; worst: RowMark | null } {
  const mark = rowMark(x.seq, file);
  const worst = [mark, ...x.responses.map((r) => rowMark(r.seq, file)), ...x.policy.map((p) => rowMark(p.seq, file))]
    .reduce<RowMark | null>((a, m) => (!m ? a : !a || (a.state === 'unverified' && m.state === 'tampered') ? m : a), null);
  return { mark, worst };
}

/** What a row shows: drawn again only when the row changes, not when the list moves it. */
const RowParts = memo(function RowParts({ x, mark, worst, file }: { x: Exchange; mark: RowMark | null; worst: RowMark | null; file: RecordingFile | null }) {
  const unmasked = useMemo(() => new Set(x.masked.filter((m) => !m.masked).map((m) => m.field)), [x]);
  const facts = (x as Exchange & { facts?: GatewayFact[] }).facts;
  return (
    <>
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
        <NotExecuted policy={x.policy} />
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
    </>
  );
});

/**
 * A statement or command the gateway stopped gets no response of its own: say so in the response column,
 * and why (the blocking rule, the approver who denied it, or the approval that nobody decided in time).
 */
function NotExecuted({ policy }: { policy: PolicyStep[] }) {
  const last = [...policy].reverse().find((p) => STOPS.has(p.action) || p.action === 'approved' || p.action === 'allow');
  if (!last || !STOPS.has(last.action)) return null;
  const heldBy = policy.find((p) => p.action === 'review' || p.action === 'held')?.rule;
  const why = last.action === 'denied'
    ? `denied by ${last.actor ?? 'an approver (not named in the recording)'}${last.message ? ` (${last.message})` : ''}${heldBy ? ` · held by rule ${heldBy}` : ''}`
    : last.action === 'timeout'
      ? `no approver decided within the time allowed (timed out)${heldBy ? ` · held by rule ${heldBy}` : ''}`
      : `blocked by rule ${last.rule ?? '?'}${last.message ? ` (${last.message})` : ''}`;
  return <div className={`resp resp-not-executed not-executed-${last.action}`} data-testid="not-executed">⊘ not executed: {why}</div>;
}
const STOPS = new Set(['block', 'blocked', 'refused', 'denied', 'timeout']);

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
