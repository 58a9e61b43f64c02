import { useEffect, useMemo, useState } from 'react';
import type { Exchange, SessionRow } from '../../../common/api/index.js';
import { api } from '../api.js';
import { CountBadges } from '../components/Badges.js';
import { revocationOf, revokedBy } from '../evidence.js';
import { clock, shortId } from '../format.js';
import { href } from '../route.js';

/** Sessions whose rows the panel reads (each is one `hop` call); a larger identity links to its sessions instead. */
const READ_AT_MOST = 12;
/** Lines of "what they ran" per session. */
const RAN_PER_SESSION = 8;

/** A policy step as a sentence: what stopped, held or let through an operation, and who decided. */
function stepText(p: Exchange['policy'][number]): string | null {
  switch (p.action) {
    case 'block': case 'blocked': case 'refused': return `blocked by rule ${p.rule ?? '?'}`;
    case 'denied': return `denied by ${p.actor ?? 'an approver (not named)'}`;
    case 'timeout': return 'timed out: no approver decided in time';
    case 'approved': return `approved by ${p.actor ?? 'an approver (not named)'}`;
    default: return null;
  }
}

/**
 * An identity at a glance, from a click on its node: its sessions (every hop of the chains it started),
 * what they ran, what was blocked, denied or timed out and who decided, and the revocations that cut them.
 */
export function IdentityPanel({ identity, hops }: { identity: string; hops: SessionRow[] }) {
  const mine = useMemo(() => hops.filter((h) => (h.rootIdentity ?? h.identity) === identity || h.identity === identity), [hops, identity]);
  const [rows, setRows] = useState<Map<string, Exchange[]> | null>(null);
  useEffect(() => {
    let live = true;
    setRows(null);
    const read = mine.slice(0, READ_AT_MOST);
    void Promise.all(read.map((h) => api.hop(h.id).then((d) => [h.id, d.exchanges] as const, () => [h.id, [] as Exchange[]] as const)))
      .then((all) => live && setRows(new Map(all)));
    return () => void (live = false);
  }, [mine]);
  const chains = mine.filter((h) => !h.parent || !mine.some((p) => p.id === h.parent)).length;
  const revocations = [...new Set(mine.filter((h) => h.revoked).map((h) => revokedBy(revocationOf(h))))];
  const cut = mine.filter((h) => h.revoked).length;
  return (
    <div className="identity-panel" data-testid="identity-panel" data-loaded={rows ? 'yes' : 'no'}>
      <h3>● {identity}</h3>
      <p>{mine.length} session{mine.length === 1 ? '' : 's'} in {chains} chain{chains === 1 ? '' : 's'}, depth up to {Math.max(0, ...mine.map((h) => h.depth))}.</p>
      <h4>revocations</h4>
      {revocations.length === 0 ? <p className="muted small">none recorded</p> : (
        <ul className="plain-list">
          {revocations.map((r) => <li key={r} data-testid="identity-revocation">⚡ {r}</li>)}
          <li className="muted small">{cut} session{cut === 1 ? '' : 's'} cut</li>
        </ul>
      )}
      <h4>sessions and what they ran</h4>
      {!rows && <p className="muted small">reading…</p>}
      <ol className="identity-sessions">
        {mine.map((h) => {
          const ran = (rows?.get(h.id) ?? []).filter((x) => x.kind !== 'session' && x.text);
          return (
            <li key={h.id} data-testid="identity-session" data-session={h.id}>
              <a href={href({ view: 'hop', session: h.id })}>{h.protocol} → {h.target ?? '?'}</a> <span className="mono small">{shortId(h.id)} · depth {h.depth}</span>
              <div><CountBadges counts={h.counts} revoked={h.revoked} revocation={revocationOf(h)} /></div>
              <ul className="identity-ran">
                {ran.slice(0, RAN_PER_SESSION).map((x) => (
                  <li key={x.seq} data-testid="identity-ran"><span className="muted">{clock(x.t)}</span> <code>{x.text}</code>
                    {x.policy.map(stepText).filter(Boolean).map((s) => <span key={s} className="identity-step" data-testid="identity-policy"> · {s}</span>)}
                  </li>
                ))}
                {ran.length > RAN_PER_SESSION && <li className="muted small">… {ran.length - RAN_PER_SESSION} more in the hop</li>}
              </ul>
            </li>
          );
        })}
      </ol>
      {mine.length > READ_AT_MOST && <p className="muted small">What they ran is read for the first {READ_AT_MOST} sessions; open the others.</p>}
    </div>
  );
}
