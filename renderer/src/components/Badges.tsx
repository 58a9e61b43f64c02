import type { HopCounts } from '../../../common/api/index.js';

/** Integrity of a recording: green only when intact and sealed. */
export function IntegrityBadge({ integrity, sealed }: { integrity: string; sealed: boolean }) {
  const ok = integrity === 'intact' && sealed;
  const label = ok ? 'intact' : integrity === 'intact' ? 'not sealed' : integrity;
  return <span className={`badge ${ok ? 'ok' : 'bad'}`} data-testid="integrity" title={`integrity: ${integrity}${sealed ? ', sealed' : ', not sealed'}`}>{ok ? '✓ ' : '⚠ '}{label}</span>;
}

/** Policy and masking badges of a hop: only what happened. */
export function CountBadges({ counts, revoked }: { counts: HopCounts; revoked: boolean }) {
  return (
    <>
      {counts.blocked > 0 && <span className="badge block" title="operations blocked by a guardrail">⊘ {counts.blocked} blocked</span>}
      {counts.held > 0 && <span className="badge held" title="operations held for approval">◔ {counts.held} held</span>}
      {counts.approved > 0 && <span className="badge approved" title="held operations approved">✔ {counts.approved} approved</span>}
      {counts.denied > 0 && <span className="badge denied" title="held operations denied or timed out">✖ {counts.denied} denied</span>}
      {counts.maskedValues > 0 && <span className="badge masked" title="values masked before they reached the client">▒ {counts.maskedValues} masked</span>}
      {counts.unmaskedSensitive > 0 && <span className="badge bad" title="values that look sensitive and were returned unmasked">! {counts.unmaskedSensitive} unmasked</span>}
      {revoked && <span className="badge revoked" title="cut by a revocation">⚡ revoked</span>}
    </>
  );
}
