import type { ChainFacts, HopDetail, RevocationFact, SessionRow } from '../../common/api/index.js';
import { INTEGRITY_DESCRIPTIONS, INTEGRITY_STATES, isTrustworthy, type IntegrityState } from '../../common/recording/integrity.js';

/*
 * What a recording proves, in the words every reader uses (common/recording/integrity.ts), and how far:
 * the backend sends each recording's chain facts and each session's revocation (common/api/evidence.ts)
 * beside the fields of SessionRow and HopDetail.
 */

export type { ChainFacts, RevocationFact };

export type EvidenceRow = SessionRow & { chain?: ChainFacts; revocation?: RevocationFact | null };
export type RecordingFile = NonNullable<HopDetail['file']> & Partial<ChainFacts>;
export interface AuditCounts { revocations: number; unrevocations: number; refusals: number; events: number }
export type GatewayRecordingRow = EvidenceRow & { audit: AuditCounts };
export interface GatewayFact { label: string; value: string; session?: string }

export { isTrustworthy };

/** Words of older case files: a missing seal or a torn last line proves nothing past the last signature. */
const OLDER_WORDS: Record<string, IntegrityState> = { unsealed: 'unverified', truncated: 'unverified' };

/** The state word of a recording (older words mapped to today's). */
export function stateOf(integrity: string, sealed: boolean): IntegrityState | string {
  if (integrity === 'intact' && !sealed) return 'unverified';
  return OLDER_WORDS[integrity] ?? integrity;
}

/** The word as shown: `tampered at seq N` names where the chain breaks. */
export function stateLabel(integrity: string, sealed: boolean, chain?: Partial<ChainFacts> | null): string {
  const state = stateOf(integrity, sealed);
  if (state === 'tampered' && chain?.intactThrough !== undefined) return `tampered at seq ${chain.intactThrough + 1}`;
  return state;
}

/** The state's description, with its seq filled in, and a note when the case file holds an older word. */
export function describeState(integrity: string, sealed: boolean, chain?: Partial<ChainFacts> | null): string {
  const state = stateOf(integrity, sealed);
  let text: string = (INTEGRITY_STATES as readonly string[]).includes(state) ? INTEGRITY_DESCRIPTIONS[state as IntegrityState] : `${state}: a state this workbench does not know`;
  if (state === 'tampered' && chain?.intactThrough !== undefined) text = text.replace('seq N', `seq ${chain.intactThrough + 1}`);
  else if (state === 'recovered' && chain?.signedThrough !== undefined) text = text.replace('seq N', `seq ${chain.lastSeq ?? chain.signedThrough}`);
  if (state === 'unverified' && chain?.signedThrough !== undefined) text += ` (signed through seq ${chain.signedThrough})`;
  if (integrity !== state) text += ` — recorded as “${integrity}${integrity === 'intact' ? ', not sealed' : ''}” by an older hopscope`;
  return text;
}

/** Green only for intact-and-sealed and recovered. */
export const isGood = (integrity: string, sealed: boolean): boolean => isTrustworthy(stateOf(integrity, sealed));

/** Why an event of a recording is not verified evidence, or null when it is. */
export interface RowMark {
  state: 'tampered' | 'unverified';
  /** Short, on the row. */
  label: string;
  /** The whole reason, on hover and for screen readers. */
  reason: string;
}

/** The mark of the event at `seq` of a recording: past a break in the chain, or in the unverified tail after the last signature. */
export function rowMark(seq: number, file: RecordingFile | null | undefined): RowMark | null {
  if (!file || file.intactThrough === undefined || file.signedThrough === undefined) return null;
  const state = stateOf(file.integrity, file.sealed);
  if (seq > file.intactThrough) {
    return { state: 'tampered', label: `past the break (seq ${file.intactThrough + 1})`,
      reason: `Not evidence: the recording's hash chain breaks at seq ${file.intactThrough + 1}; this event (seq ${seq}) comes after the break and may have been altered, inserted or reordered.` };
  }
  if (state === 'unknown-key' || file.keyTrusted === false) {
    return { state: 'unverified', label: 'unknown key',
      reason: `Unverified: the recording is signed by a key this case does not trust, so nothing in it, including this event (seq ${seq}), is proven to come from a known gateway.` };
  }
  if (state === 'recovered') return null; // the gateway's signed recovery record vouches for the events up to the crash
  if (seq > file.signedThrough) {
    return { state: 'unverified', label: 'unverified tail',
      reason: `Unverified: this event (seq ${seq}) comes after the last valid signature (seq ${file.signedThrough}); it is not proven to be what the gateway wrote.` };
  }
  return null;
}

export const revocationOf = (row: SessionRow): RevocationFact | null => (row as EvidenceRow).revocation ?? null;
export const chainOf = (row: SessionRow): ChainFacts | null => (row as EvidenceRow).chain ?? null;

/** `revoked by admin (reason)`, or that no recording names who did it. */
export function revokedBy(r: RevocationFact | null): string {
  if (!r) return 'cut by a revocation; no recording in this case says who revoked it';
  const by = r.by ? `revoked by ${r.by}` : 'revoked (no actor recorded)';
  return `${by}${r.what ? ` (${r.what})` : ''}${r.via ? ` via ${r.via}` : ''}${r.reason ? `: ${r.reason}` : ''}${r.verified ? '' : ' — the record of it is not verified'}`;
}
