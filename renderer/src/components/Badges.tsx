import type { HopCounts } from '../../../common/api/index.js';
import { describeState, isGood, revokedBy, stateLabel, stateOf, type ChainFacts, type RevocationFact } from '../evidence.js';

/**
 * What a recording proves, in the shared words (intact, recovered, unverified, tampered at seq N, …), with
 * the word's description on hover and for screen readers: green only for intact-and-sealed and recovered.
 */
export function IntegrityBadge({ integrity, sealed, chain }: { integrity: string; sealed: boolean; chain?: Partial<ChainFacts> | null }) {
  const ok = isGood(integrity, sealed);
  const state = stateOf(integrity, sealed);
  const description = describeState(integrity, sealed, chain);
  return (
    <span className={`badge ${ok ? 'ok' : 'bad'} integrity-${state}`} data-testid="integrity" data-state={state} role="note" title={description} aria-label={`integrity ${stateLabel(integrity, sealed, chain)}: ${description}`}>
      {ok ? '✓ ' : '⚠ '}{stateLabel(integrity, sealed, chain)}
    </span>
  );
}

/** Policy and masking badges of a hop: only what happened. */
export function CountBadges({ counts, revoked, revocation }: { counts: HopCounts; revoked: boolean; revocation?: RevocationFact | null }) {
  return (
    <>
      {counts.blocked > 0 && <span className="badge block" title="operations blocked by a guardrail">⊘ {counts.blocked} blocked</span>}
      {counts.held > 0 && <span className="badge held" title="operations held for approval">◔ {counts.held} held</span>}
      {counts.approved > 0 && <span className="badge approved" title="held operations approved">✔ {counts.approved} approved</span>}
      {counts.denied > 0 && <span className="badge denied" title="held operations an approver denied">✖ {counts.denied} denied</span>}
      {(counts.timedOut ?? 0) > 0 && <span className="badge timeout" title="held operations nobody decided in time (not executed)">◷ {counts.timedOut} timed out</span>}
      {counts.maskedValues > 0 && <span className="badge masked" title="values masked before they reached the client">▒ {counts.maskedValues} masked</span>}
      {counts.unmaskedSensitive > 0 && <span className="badge bad" title="values that look sensitive and were returned unmasked">! {counts.unmaskedSensitive} unmasked</span>}
      {revoked && (
        <span className="badge revoked" data-testid="revoked-badge" title={revokedBy(revocation ?? null)} aria-label={revokedBy(revocation ?? null)}>
          ⚡ revoked{revocation?.by ? ` by ${revocation.by}` : ''}
        </span>
      )}
    </>
  );
}
