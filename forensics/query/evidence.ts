import type { ChainFacts, RevocationFact, SessionRow } from '../../common/api/index.js';

export type { ChainFacts, RevocationFact };
import { caseDb, type CaseFile } from '../store/case.js';

/*
 * What the workbench adds to the rows it serves so that the UI can say how far a recording is proven
 * and who revoked a session (the shapes are common/api/evidence.ts). They ride on SessionRow and
 * HopDetail.file as extra properties.
 */

export type EvidenceRow = SessionRow & { chain: ChainFacts; revocation: RevocationFact | null };

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

/** Chain facts of every session, by id (one query). */
export function chainFacts(c: CaseFile): Map<string, ChainFacts> {
  const rows = caseDb(c).prepare(`SELECT s.id, f.intact_through, f.signed_through, f.last_seq, f.key_trusted FROM sessions s JOIN files f ON f.id = s.file_id
    WHERE f.state = 'complete'`).all() as { id: string; intact_through: number; signed_through: number; last_seq: number; key_trusted: number }[];
  return new Map(rows.map((r) => [r.id, { intactThrough: r.intact_through, signedThrough: r.signed_through, lastSeq: r.last_seq, keyTrusted: r.key_trusted === 1 }]));
}

/** `identity agent` / `token 1a2b`: what a revocation event names. */
export function revokedWhat(d: Record<string, unknown>): string | null {
  const identity = str(d.identity);
  const token = str(d.tokenId);
  return identity ? `identity ${identity}` : token ? `token ${token}` : null;
}

/**
 * Revocations by the session they cut: the gateways' own recordings (`revoked` with `sessionsCut`, the
 * actor in `by`) first, then a session's own revocation step (policy_decisions, action revoked) for
 * sessions no gateway recording in the case names.
 */
export function revocationFacts(c: CaseFile): Map<string, RevocationFact> {
  const out = new Map<string, RevocationFact>();
  const audit = caseDb(c).prepare(`SELECT e.session, e.seq, e.t, e.data, e.intact FROM events e
    WHERE e.session IN (SELECT id FROM sessions WHERE protocol = 'gateway') AND e.type = 'revoked' ORDER BY e.t`)
    .all() as { session: string; seq: number; t: number; data: string; intact: number }[];
  for (const e of audit) {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    const fact: RevocationFact = {
      by: str(d.by) ?? str(d.actor), reason: str(d.reason), what: revokedWhat(d), t: e.t, via: str(d.via), client: str(d.client),
      recording: e.session, seq: e.seq, verified: e.intact === 1,
    };
    const cut = Array.isArray(d.sessionsCut) ? d.sessionsCut : [];
    for (const s of cut) if (typeof s === 'string' && !out.has(s)) out.set(s, fact);
  }
  // The session's own end (format: session.end {cause: revoked | ancestor-revoked, by, revocation {identity|tokenId, by, reason}, ancestor}).
  // session.end is the last event but the seal: only the last few events of each such session are read.
  const ends = caseDb(c).prepare(`SELECT e.session, e.seq, e.t, e.data, e.intact FROM sessions s JOIN files f ON f.id = s.file_id JOIN events e ON e.session = s.id
    WHERE s.protocol != 'gateway' AND s.end_reason LIKE '%revok%' AND e.seq >= f.last_seq - 4 AND e.type = 'session.end'`)
    .all() as { session: string; seq: number; t: number; data: string; intact: number }[];
  for (const e of ends) {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    const note = (d.revocation && typeof d.revocation === 'object' ? d.revocation : {}) as Record<string, unknown>;
    const known = out.get(e.session);
    if (known) {
      known.reason ??= str(note.reason);
      continue;
    }
    const by = str(d.by) ?? str(note.by);
    if (!by && !str(note.reason) && !revokedWhat(note)) continue; // says nothing the session's decision row does not
    out.set(e.session, { by, reason: str(note.reason), what: revokedWhat(note), t: e.t, via: null, client: null, recording: null, seq: e.seq, verified: e.intact === 1 });
  }
  const own = caseDb(c).prepare(`SELECT p.session, p.seq, p.t, p.actor, p.message, e.intact FROM policy_decisions p
    LEFT JOIN events e ON e.session = p.session AND e.seq = p.seq WHERE p.action = 'revoked' ORDER BY p.seq`)
    .all() as { session: string; seq: number; t: number; actor: string | null; message: string | null; intact: number | null }[];
  for (const p of own) {
    if (out.has(p.session)) continue;
    out.set(p.session, { by: p.actor, reason: p.message, what: null, t: p.t, via: null, client: null, recording: null, seq: p.seq, verified: p.intact === 1 });
  }
  return out;
}
