import type { SessionRow } from '../../../common/api/index.js';
import { CountBadges, IntegrityBadge } from '../components/Badges.js';
import { chainOf, revocationOf, revokedBy } from '../evidence.js';
import { dateTime, duration } from '../format.js';
import type { LaidEdge } from '../graph/layout.js';
import { href } from '../route.js';

/** Why two hops are linked: the link kind, proven or inferred, and the evidence recorded for it. */
export function EvidencePanel({ edge }: { edge: LaidEdge }) {
  const evidence = edge.link?.evidence;
  return (
    <div className="evidence" data-testid="evidence">
      <h3>{edge.kind === 'triggered' ? 'triggered by identity' : edge.kind}</h3>
      {edge.link && <p>{edge.inferred
        ? <span className="badge held">inferred</span>
        : <span className="badge ok">proven</span>} {edge.inferred ? 'linked by circumstance, not by a token the parent handed out' : 'the child presented the hop token its parent was given'}</p>}
      <dl>
        <dt>from</dt><dd className="mono">{edge.from}</dd>
        <dt>to</dt><dd className="mono">{edge.to}</dd>
        {edge.link?.parentMissing && <><dt>parent</dt><dd>not in this case file</dd></>}
      </dl>
      {evidence !== null && evidence !== undefined && (
        <>
          <h4>evidence</h4>
          {typeof evidence === 'object' && !Array.isArray(evidence)
            ? <dl>{Object.entries(evidence as Record<string, unknown>).map(([k, v]) => <FragmentRow key={k} k={k} v={v} />)}</dl>
            : <pre>{JSON.stringify(evidence, null, 2)}</pre>}
        </>
      )}
    </div>
  );
}

function FragmentRow({ k, v }: { k: string; v: unknown }) {
  return <><dt>{k}</dt><dd className="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</dd></>;
}

export function HopPanel({ hop, path }: { hop: SessionRow; path: string[] }) {
  const c = hop.counts;
  return (
    <div className="hop-panel" data-testid="hop-panel">
      <h3>{hop.protocol} · {hop.identity ?? '?'} → {hop.target ?? '?'}</h3>
      <p className="mono small">{hop.id}</p>
      <p><IntegrityBadge integrity={hop.integrity} sealed={hop.sealed} chain={chainOf(hop)} /> <CountBadges counts={c} revoked={hop.revoked} revocation={revocationOf(hop)} /></p>
      <dl>
        <dt>start</dt><dd>{dateTime(hop.startMicros)}</dd>
        <dt>length</dt><dd>{hop.startMicros !== null && hop.endMicros !== null ? duration(hop.endMicros - hop.startMicros) : '?'}</dd>
        <dt>depth</dt><dd>{hop.depth}</dd>
        <dt>link</dt><dd>{hop.linkKind ? `${hop.linkKind}${hop.inferred ? ' (inferred)' : ' (proven)'}` : 'root'}</dd>
        <dt>issued</dt><dd>{c.statements} statements, {c.commands} commands, {c.errors} errors</dd>
        {hop.endReason && <><dt>ended</dt><dd>{hop.endReason}</dd></>}
        {hop.revoked && <><dt>revoked</dt><dd data-testid="panel-revocation">{revokedBy(revocationOf(hop))}</dd></>}
      </dl>
      <h4>path to root</h4>
      <ol className="path-list" data-testid="path-to-root">{[...path].reverse().map((p) => <li key={p} className="mono small">{p}</li>)}</ol>
      <a className="button" href={href({ view: 'hop', session: hop.id })} data-testid="open-hop">Open hop →</a>
    </div>
  );
}
