import type { TextMatch } from '../../common/api/index.js';
import { caseDb, type CaseFile } from '../store/case.js';
import type { EvidenceRow } from './evidence.js';

/*
 * What the session search finds besides the commands' text: who a session is (identity, root identity,
 * target, protocol, id) and what happened in it (blocked, held, approved or denied and by whom, timed out,
 * masked, revoked and by whom, cut, how it ended), as phrases a user would type.
 */

/** The approvers named in each session's decisions: `denied by alice`, `approved by alice`. */
function decisionsBy(c: CaseFile): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const rows = caseDb(c).prepare(`SELECT DISTINCT session, action, actor FROM policy_decisions WHERE actor IS NOT NULL AND action IN ('approved', 'denied')`)
    .all() as { session: string; action: string; actor: string }[];
  for (const r of rows) out.set(r.session, [...(out.get(r.session) ?? []), `${r.action} by ${r.actor}`]);
  return out;
}

function phrasesOf(r: EvidenceRow, decisions: string[]): string[] {
  const c = r.counts;
  const out = [r.id, `identity ${r.identity ?? '?'}`, `target ${r.target ?? '?'}`, r.protocol];
  if (r.rootIdentity && r.rootIdentity !== r.identity) out.push(`root identity ${r.rootIdentity}`);
  if (c.blocked) out.push(`${c.blocked} blocked`);
  if (c.held) out.push(`${c.held} held for approval`);
  if (c.approved) out.push(`${c.approved} approved`);
  if (c.denied) out.push(`${c.denied} denied`);
  if (c.timedOut) out.push(`${c.timedOut} timed out (timeout)`);
  if (c.maskedValues) out.push(`${c.maskedValues} masked`);
  if (c.unmaskedSensitive) out.push(`${c.unmaskedSensitive} unmasked sensitive`);
  out.push(...decisions);
  if (r.revoked) {
    const v = r.revocation;
    out.push(`revoked${v?.by ? ` by ${v.by}` : ''}${v?.what ? ` (${v.what})` : ''}${v?.reason ? `: ${v.reason}` : ''}`, 'cut by a revocation');
  }
  if (r.endReason) out.push(`ended: ${r.endReason}`);
  return out;
}

/**
 * Sessions every word of `text` is found in (case-insensitive, anywhere in the session's phrases), each
 * with a match saying which phrases hold the words, so the list can say why a session was found.
 */
export function sessionFactMatches(c: CaseFile, rows: EvidenceRow[], text: string): TextMatch[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const decisions = decisionsBy(c);
  const out: TextMatch[] = [];
  for (const r of rows) {
    const phrases = phrasesOf(r, decisions.get(r.id) ?? []);
    const all = phrases.join(' · ').toLowerCase();
    if (!words.every((w) => all.includes(w))) continue;
    // The id and the protocol say nothing a row does not show already.
    const why = phrases.slice(2).filter((p) => words.some((w) => p.toLowerCase().includes(w)));
    out.push({ session: r.id, seq: 0, kind: 'session', text: why.length ? why.join(' · ') : phrases.slice(1, 3).join(' · ') });
  }
  return out;
}
